/**
 * state.backend: etcd — a fleet's shared state (issue 11): the etcd client, the shared
 * state store (CAS + watch) and this replica's part in the fleet (lease, leader election,
 * traffic published and summed), behind the StateBackend contract.
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import { leaseSeconds, type EtcdConfig } from '../config/state-backend.js'
import type { Config, HostPort } from '../config/types.js'
import type { FleetView } from '../control/api-types.js'
import type { OutcomeSink } from '../outcome/outcome-sink.js'
import type { BackendParts, BackendStatus, GateView, InitialState, StateBackend } from '../state/backend.js'
import type { EventLog } from '../state/events.js'
import { EtcdConnection } from './etcd-connection.js'
import { EtcdStateStore } from './etcd-state-store.js'
import { Fleet } from './fleet.js'

const { hostname } = process.getBuiltinModule('node:os')

export interface EtcdBackendOptions {
  clock: Clock
  logger: Logger
  events: EventLog
  /** a remote change was applied here ms after it was written */
  onPropagation?: (ms: number) => void
}

/** The default replica id: hostname and control port (the pid when the port is chosen by the system). */
export function defaultReplicaId(config: Config): string {
  const port = config.control.listen.port
  return `${hostname()}:${port !== 0 ? port : `pid${process.pid}`}`
}

export class EtcdBackend implements StateBackend {
  readonly kind = 'etcd'
  readonly store: EtcdStateStore
  readonly replicaId: string
  readonly #conn: EtcdConnection
  readonly #etcd: EtcdConfig
  readonly #options: EtcdBackendOptions
  #fleet: Fleet | null = null

  constructor(config: Config, options: EtcdBackendOptions) {
    const etcd = config.state.etcd
    if (etcd === undefined) throw new Error('state.backend etcd without state.etcd (the config check refuses this)')
    this.#etcd = etcd
    this.#options = options
    this.replicaId = config.state.replica_id ?? defaultReplicaId(config)
    this.#conn = new EtcdConnection(etcd, options.clock, options.logger)
    this.store = new EtcdStateStore({ conn: this.#conn, replicaId: this.replicaId, clock: options.clock, logger: options.logger, events: options.events, onPropagation: options.onPropagation })
  }

  get sink(): OutcomeSink | null {
    return this.#fleet?.recorder ?? null
  }

  async initial(config: Config): Promise<InitialState> {
    return this.store.initial(config.split.y)
  }

  attach(parts: BackendParts): void {
    this.#fleet = new Fleet({
      conn: this.#conn,
      replicaId: this.replicaId,
      ttlSeconds: leaseSeconds(this.#etcd),
      gates: parts.gates,
      state: parts.state,
      events: parts.events,
      clock: this.#options.clock,
      logger: this.#options.logger,
      takeOverRollout: parts.takeOverRollout,
      nodes: parts.nodes,
    })
    void this.store.attach(parts.state).catch((err) => this.#options.logger.error({ err }, 'etcd watch of the shared state not started; resynced when etcd answers'))
  }

  gateView(): GateView | null {
    return this.#fleet?.gateView() ?? null
  }

  leads(): boolean {
    return this.#fleet?.leading ?? false
  }

  async start(control: HostPort): Promise<void> {
    await this.#fleet?.start(control)
  }

  status(): BackendStatus {
    const h = this.#conn.health
    return { up: h.up, reason: h.reason, leading: this.#fleet?.leading ?? false, replicas: this.#fleet?.replicaCount ?? 0 }
  }

  describe(): FleetView | null {
    return this.#fleet?.describe() ?? null
  }

  configure(config: Config): void {
    this.#fleet?.configure(config.gates)
  }

  /** Give up the lease (another replica leads at once) and close the client. */
  async close(options: { revoke: boolean } = { revoke: true }): Promise<void> {
    await this.#fleet?.stop(options)
    await this.store.close()
    this.#conn.close()
  }
}
