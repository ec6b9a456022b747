/**
 * The primary's workers: forks them, restarts one that dies (after a pause when it died
 * young), keeps each worker's last in-flight report, relays what the control plane says
 * (config with its generation, split and usability) and collects their metrics. It knows
 * nothing of gates or health: outcomes go to onOutcomes.
 */

// biome-ignore lint/correctness/noNodejsModules: node:cluster's typings describe the ES module, not the object getBuiltinModule returns; its namespace loads nothing more
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Config, HostPort, PoolName } from '../config/types.js'
import type { ShadowBatch } from '../shadow/results.js'
import type { H2Until, ToPrimary, ToWorker, Usable, Weights, Why } from './messages.js'

/** A worker that dies sooner than this after its start is restarted only after a pause. */
export const CRASH_LOOP_MS = 5_000
const RESTART_PAUSE_MS = 1_000
/** a drain's grace beyond proxy.drain_timeout before stragglers are killed */
const KILL_AFTER_DRAIN_MS = 5_000

interface WorkerSlot {
  worker: Worker
  startedAt: number
  listening: boolean
  /** in-flight requests per node, by pool and index, as of the worker's last batch */
  inflight: Record<PoolName, number[]>
}

interface MetricsRequest {
  pending: number
  parts: unknown[][]
  done: () => void
}

export interface WorkerPoolOptions {
  count: number
  config: Config
  clock: Clock
  logger: Logger
}

/** What the pool needs of the control plane; given by connect(), before start(). */
export interface WorkerPoolConnections {
  /** the split and node usability as of now, for every message that carries them */
  routing: () => { y: number; usable: Usable; weights: Weights; h2Until?: H2Until; maint?: Usable }
  /** a batch of outcome records from a worker, about the current node list */
  onOutcomes: (records: readonly number[], whys?: readonly Why[]) => void
  /** a batch of shadow results from a worker (issue 13) */
  onShadow: (batch: ShadowBatch) => void
  /** a worker died and another is being started (not during close) */
  onExit: (pid: number | undefined, code: number | null, signal: string | null) => void
}

export class WorkerPool {
  readonly #count: number
  readonly #clock: Clock
  readonly #logger: Logger
  #connections: WorkerPoolConnections | null = null
  readonly #slots = new Map<number, WorkerSlot>()
  readonly #metricsRequests = new Map<number, MetricsRequest>()
  #metricsId = 0
  #config: Config
  /** the config generation; a batch about an older node list is dropped */
  #gen = 1
  #stopping = false
  /** while starting: the first start's outcome */
  #starting: { listening: (address: HostPort) => void; failed: (err: Error) => void } | null = null

  constructor(options: WorkerPoolOptions) {
    this.#count = options.count
    this.#config = options.config
    this.#clock = options.clock
    this.#logger = options.logger
  }

  /** Connect the pool to the control plane: what to tell workers, where their outcomes go. */
  connect(connections: WorkerPoolConnections): void {
    this.#connections = connections
  }

  get #control(): WorkerPoolConnections {
    if (!this.#connections) throw new Error('worker pool used before connect()')
    return this.#connections
  }

  /** Fork every worker; resolves with the proxy address once all listen, rejects if one cannot start. */
  start(): Promise<HostPort> {
    void this.#control // fail before forking when not connected
    return new Promise<HostPort>((resolve, reject) => {
      let listening = 0
      this.#starting = {
        listening: (address) => {
          if (++listening === this.#count) {
            this.#starting = null
            resolve(address)
          }
        },
        failed: (err) => {
          this.#starting = null
          reject(err)
        },
      }
      for (let i = 0; i < this.#count; i++) this.#fork()
    })
  }

  /** A new config (node list) for every worker, under a new generation. */
  reload(config: Config): void {
    this.#config = config
    this.#gen++
    this.#broadcast({ t: 'config', gen: this.#gen, config, ...this.#control.routing() })
  }

  /** The split or a node's usability changed: every worker rebuilds its table. */
  routingChanged(): void {
    this.#broadcast({ t: 'route', gen: this.#gen, ...this.#control.routing() })
  }

  /** Requests in flight to the node at index in pool, summed over the workers' last reports. */
  inflight(pool: PoolName, index: number): number {
    let n = 0
    for (const slot of this.#slots.values()) n += slot.inflight[pool][index] ?? 0
    return n
  }

  /** Each listening worker's metrics (prom-client JSON); the ones not answering within timeoutMs are left out. */
  async collectMetrics(timeoutMs: number): Promise<unknown[][]> {
    const id = ++this.#metricsId
    const parts: unknown[][] = []
    const live = [...this.#slots.values()].filter((s) => s.listening && s.worker.isConnected())
    if (live.length === 0) return parts
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(resolve, timeoutMs)
      this.#metricsRequests.set(id, {
        pending: live.length,
        parts,
        done: () => {
          this.#clock.clearTimeout(timer)
          resolve()
        },
      })
      for (const slot of live) this.#tell(slot, { t: 'metrics', id })
    })
    this.#metricsRequests.delete(id)
    return parts
  }

  /** Tell every worker to drain, kill what is left after drain_timeout and a grace, resolve when all exited. */
  async close(): Promise<void> {
    this.#stopping = true
    const exits = [...this.#slots.values()].map(
      (slot) =>
        new Promise<void>((resolve) => {
          if (slot.worker.isDead()) return resolve()
          slot.worker.once('exit', () => resolve())
          this.#tell(slot, { t: 'drain' })
        }),
    )
    const grace = this.#clock.setTimeout(() => {
      for (const slot of this.#slots.values()) slot.worker.kill('SIGKILL')
    }, this.#config.proxy.drain_timeout + KILL_AFTER_DRAIN_MS)
    await Promise.all(exits)
    this.#clock.clearTimeout(grace)
  }

  /** Kill every worker at once (a start that failed). */
  kill(): void {
    this.#stopping = true
    for (const slot of this.#slots.values()) slot.worker.kill()
  }

  #tell(slot: WorkerSlot, message: ToWorker): void {
    if (slot.worker.isConnected()) slot.worker.send(message)
  }

  #broadcast(message: ToWorker): void {
    for (const slot of this.#slots.values()) this.#tell(slot, message)
  }

  #fork(): void {
    const worker = cluster.fork()
    const slot: WorkerSlot = { worker, startedAt: this.#clock.monotonic(), listening: false, inflight: { x: [], y: [] } }
    this.#slots.set(worker.id, slot)
    worker.on('message', (message: ToPrimary) => this.#received(slot, message))
    worker.on('exit', (code, signal) => this.#exited(slot, code, signal))
  }

  #received(slot: WorkerSlot, message: ToPrimary): void {
    switch (message.t) {
      case 'ready':
        this.#tell(slot, { t: 'init', gen: this.#gen, config: this.#config, ...this.#control.routing() })
        break
      case 'listening':
        slot.listening = true
        this.#logger.info({ pid: slot.worker.process.pid }, 'worker listening')
        this.#starting?.listening({ host: message.host, port: message.port })
        break
      case 'outcomes':
        if (message.gen !== this.#gen) break // about a node list that a reload replaced
        this.#control.onOutcomes(message.records, message.whys)
        slot.inflight = message.inflight
        break
      case 'shadow':
        this.#control.onShadow(message.batch)
        break
      case 'metrics': {
        const request = this.#metricsRequests.get(message.id)
        if (!request) break
        request.parts.push(message.json)
        if (--request.pending <= 0) request.done()
        break
      }
      case 'error':
        this.#logger.error({ pid: slot.worker.process.pid, error: message.message }, 'worker could not start')
        this.#starting?.failed(new Error(message.message))
        break
    }
  }

  #exited(slot: WorkerSlot, code: number | null, signal: string | null): void {
    this.#slots.delete(slot.worker.id)
    if (this.#stopping) return
    const pid = slot.worker.process.pid
    const lived = this.#clock.monotonic() - slot.startedAt
    this.#logger.error({ pid, code, signal, lived_ms: lived }, 'worker exited: starting another')
    this.#control.onExit(pid, code, signal)
    this.#clock.setTimeout(
      () => {
        if (!this.#stopping) this.#fork()
      },
      lived < CRASH_LOOP_MS ? RESTART_PAUSE_MS : 0,
    )
  }
}
