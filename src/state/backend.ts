/**
 * Where the live state lives (state.backend): the contract the control plane builds on,
 * and the file backend, one cutover's state file (today's behaviour). The etcd backend,
 * a fleet's shared state, is src/fleet/etcd-backend.ts.
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Config, HostPort } from '../config/types.js'
import type { FleetView } from '../control/api-types.js'
import type { GateReport } from '../gates/verdict.js'
import type { OutcomeSink } from '../outcome/outcome-sink.js'
import type { StateController, StateStore } from './controller.js'
import type { EventLog } from './events.js'
import { FileStateStore } from './store.js'
import type { LiveState } from './types.js'

export interface InitialState {
  state: LiveState
  /** the start-up event: type and details */
  event: [string, Record<string, unknown>]
}

/** What the rollout runner reads of the gates: one replica's gatekeeper, or the fleet's sum. */
export interface GateView {
  yRequestsTotal(): number
  verdict(): GateReport
}

/** What a backend may need from the control plane once the controller exists. */
export interface BackendParts {
  state: StateController
  events: EventLog
  gates: Config['gates']
  /** this replica now leads and a rollout is stored: go on with it, its hold afresh */
  takeOverRollout: () => void
  /** the nodes as this replica sees them (a fleet shows every replica's view) */
  nodes?: () => Array<{ pool: 'x' | 'y'; name: string; usable: boolean }>
}

/** The backend's health and its part of /metrics. */
export interface BackendStatus {
  up: boolean
  reason: string | null
  /** null: not a fleet */
  leading: boolean | null
  replicas: number | null
}

export interface StateBackend {
  readonly kind: 'file' | 'etcd'
  readonly store: StateStore
  /** The state to start from and the start-up event (the file backend writes it once). */
  initial(config: Config): Promise<InitialState>
  /** Called once the controller exists, before anything listens. */
  attach(parts: BackendParts): void
  /** This replica's traffic for the fleet's gates; null when not a fleet. */
  readonly sink: OutcomeSink | null
  /** The fleet's gate figures for the rollout runner; null: the local gatekeeper's. */
  gateView(): GateView | null
  /** Whether this replica leads the fleet's decisions (always, for one cutover). */
  leads(): boolean
  /** Start following and publishing (the control listener is bound). */
  start(control: HostPort): Promise<void>
  status(): BackendStatus
  /** The fleet section of GET /v1/state; null when not a fleet. */
  describe(): FleetView | null
  configure(config: Config): void
  close(): Promise<void>
}

/** One cutover's state file: read once at start, written atomically on every change. */
export class FileBackend implements StateBackend {
  readonly kind = 'file'
  readonly store: FileStateStore
  readonly sink = null
  readonly #logger: Logger

  constructor(config: Config, clock: Clock, logger: Logger) {
    this.store = new FileStateStore(config.state.path, { clock })
    this.#logger = logger
  }

  /** The state file first, else split.y; an unreadable file is moved aside and y starts at 0, locked. */
  async initial(config: Config): Promise<InitialState> {
    const loaded = this.store.load()
    let result: InitialState
    if (loaded.kind === 'ok') result = { state: loaded.state, event: ['startup', { cause: 'startup', source: 'state file', y: loaded.state.y, locked: loaded.state.locked }] }
    else if (loaded.kind === 'missing')
      result = { state: { y: config.split.y, locked: false, lock_reason: null, rollout: null }, event: ['startup', { cause: 'startup', source: 'config split.y', y: config.split.y, locked: false }] }
    else {
      const reason = `state file could not be read (${loaded.reason}); moved aside to ${loaded.movedTo}; started with y at 0, locked`
      this.#logger.error({ path: config.state.path, movedTo: loaded.movedTo, reason: loaded.reason }, 'state file unreadable: started at y 0, locked')
      result = {
        state: { y: 0, locked: true, lock_reason: reason, rollout: null },
        event: ['state.unreadable', { cause: 'startup', reason: loaded.reason, moved_to: loaded.movedTo, y: 0, locked: true }],
      }
    }
    await this.store.save(result.state)
    return result
  }

  attach(_parts: BackendParts): void {}

  gateView(): null {
    return null
  }

  leads(): boolean {
    return true
  }

  async start(_control: HostPort): Promise<void> {}

  status(): BackendStatus {
    return { up: true, reason: null, leading: null, replicas: null }
  }

  describe(): null {
    return null
  }

  configure(_config: Config): void {}

  async close(): Promise<void> {}
}
