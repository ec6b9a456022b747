/**
 * The fleet's one client of etcd: every call has a deadline, and its outcome says whether
 * the backend is up (any answer) or down (no answer: unreachable, timed out, refused).
 * A call that meets a dead member goes on at once to the next one (and that member is
 * skipped for a second), so losing one member of three changes nothing; with no member
 * answering, a control write fails fast with a clear 503, and the fleet's once-a-second
 * publish is what finds etcd back.
 *
 * It also notices etcd going back in time: a call answered with a store revision lower
 * than one seen before it was made (etcd restored from a backup, or restarted on an empty
 * data dir). Its listeners hear of it (the state is written back, the watches start
 * again: theirs wait for a revision etcd no longer has and would deliver nothing).
 */

import { circuitBreaker, ConsecutiveBreaker, ConstantBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel'
import { Etcd3, isRecoverableError, type IKeyValue, type IOptions, type Watcher } from 'etcd3'
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { EtcdConfig } from '../config/state-backend.js'

const { readFileSync } = process.getBuiltinModule('node:fs')

/** The most one attempt on one member may take; a call tries every member once more after. */
export const ATTEMPT_TIMEOUT_MS = 500
/** A member that failed three calls in a row is skipped for this long, then tried again. */
const MEMBER_PAUSE_MS = 1000
/** One failed call after a success this recent is a hiccup (a member lost, a raft election), not etcd down. */
const DOWN_AFTER_MS = 1000

export interface BackendHealth {
  up: boolean
  /** why it is down; null when up */
  reason: string | null
  /** ms time of the last change of `up` */
  since: number
}

/** A watch canceled by etcd (its revision compacted, ...) is made again after this long. */
const REWATCH_AFTER_MS = 1000

/** Call options given to each call; the deadline is per attempt (set in etcdOptions), so none here. */
export type CallOptions = Record<string, never>

function etcdOptions(config: EtcdConfig): IOptions {
  const options: IOptions = {
    hosts: config.endpoints,
    dialTimeout: ATTEMPT_TIMEOUT_MS,
    // a deadline per attempt, not per call: an attempt stuck on a dead member leaves the next one its time
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + ATTEMPT_TIMEOUT_MS }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: MEMBER_PAUSE_MS, breaker: new ConsecutiveBreaker(3) }),
      // every member once more, a moment apart: long enough for a raft election on loopback, short of the deadline
      global: retry(
        handleWhen((e) => isRecoverableError(e) || isBrokenCircuitError(e)),
        { maxAttempts: config.endpoints.length + 1, backoff: new ConstantBackoff(100) },
      ),
    },
  }
  if (config.tls) {
    options.credentials = {
      rootCertificate: config.tls.ca ? readFileSync(config.tls.ca) : Buffer.alloc(0),
      ...(config.tls.key ? { privateKey: readFileSync(config.tls.key) } : {}),
      ...(config.tls.cert ? { certChain: readFileSync(config.tls.cert) } : {}),
    }
  }
  if (config.username !== undefined && config.password !== undefined) options.auth = { username: config.username, password: config.password }
  return options
}

export class EtcdConnection {
  readonly client: Etcd3
  readonly prefix: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #listeners = new Set<(health: BackendHealth) => void>()
  readonly #rewoundListeners = new Set<(from: number, to: number) => void>()
  #health: BackendHealth
  /** the highest store revision an answer carried (0: none yet) */
  #revision = 0
  #lastOk = -Infinity
  #closed = false

  constructor(config: EtcdConfig, clock: Clock, logger: Logger) {
    this.client = new Etcd3(etcdOptions(config))
    guardWatchStream(this.client, logger)
    this.prefix = config.prefix
    this.#clock = clock
    this.#logger = logger
    // unknown until the first call answers; counted as down so nothing is taken for granted
    this.#health = { up: false, reason: 'not connected yet', since: clock.now() }
  }

  /** The full key of a path under the prefix: key('state') is /cutover/prod/state. */
  key(...parts: string[]): string {
    return `${this.prefix}/${parts.join('/')}`
  }

  get health(): Readonly<BackendHealth> {
    return this.#health
  }

  /** Hear of every change of health (down to up, up to down). */
  onHealth(listener: (health: BackendHealth) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Hear that etcd went back in time: its store revision is below one seen before. */
  onRewound(listener: (from: number, to: number) => void): () => void {
    this.#rewoundListeners.add(listener)
    return () => this.#rewoundListeners.delete(listener)
  }

  /**
   * Run one etcd call with a deadline; an answer marks the backend up, no answer marks it
   * down (unless `quiet`: a check of its own, whose failure is not the news) and rejects.
   */
  async call<T>(what: string, run: (options: CallOptions) => Promise<T>, quiet = false): Promise<T> {
    if (this.#closed) throw new Error('etcd client closed')
    // an answer to a call made after revision R was seen carries R or more (etcd's reads are linearizable)
    const floor = this.#revision
    let result: T
    try {
      result = await run({})
    } catch (err) {
      if (!quiet && this.#clock.now() - this.#lastOk >= DOWN_AFTER_MS) this.markDown(`${what}: ${(err as Error).message}`)
      throw err
    }
    this.#lastOk = this.#clock.now()
    this.markUp()
    this.#observe(what, revisionOf(result), floor)
    return result
  }

  /**
   * A watch etcd cannot end silently: one it cancels (its start revision compacted away)
   * is made again from now, and so is every watch when etcd goes back in time;
   * `connected` runs each time it (re)connects, to read again what it may have missed.
   */
  keptWatch(what: string, build: (client: Etcd3) => Watcher, on: { put?: (kv: IKeyValue) => void; delete?: (kv: IKeyValue) => void; connected?: () => void }): KeptWatch {
    return new KeptWatch(this, this.#clock, this.#logger, what, build, on)
  }

  #observe(what: string, revision: number | null, floor: number): void {
    if (revision === null) return
    if (revision >= floor) {
      this.#revision = Math.max(this.#revision, revision)
      return
    }
    this.#revision = revision
    this.#logger.error(
      { call: what, from: floor, to: revision },
      'etcd went back in time (restored from a backup, or started on an empty data dir): its revision is below one seen before; the state this replica holds is written back',
    )
    for (const listener of this.#rewoundListeners) {
      try {
        listener(floor, revision)
      } catch (err) {
        this.#logger.error({ err }, 'etcd rewind listener failed')
      }
    }
  }

  markUp(): void {
    if (this.#health.up || this.#closed) return
    this.#health = { up: true, reason: null, since: this.#clock.now() }
    this.#logger.info('state backend etcd reachable')
    this.#emit()
  }

  markDown(reason: string): void {
    if (this.#closed) return
    if (!this.#health.up && this.#health.reason === reason) return
    const wasUp = this.#health.up
    this.#health = { up: false, reason, since: wasUp ? this.#clock.now() : this.#health.since }
    if (wasUp) this.#logger.error({ reason }, 'state backend etcd unreachable: routing stays at the last known split')
    if (wasUp) this.#emit()
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.client.close()
  }

  #emit(): void {
    for (const listener of this.#listeners) {
      try {
        listener(this.#health)
      } catch (err) {
        this.#logger.error({ err }, 'state backend health listener failed')
      }
    }
  }
}

/** The store revision in an answer's header, if it has one. */
function revisionOf(result: unknown): number | null {
  const header = (result as { header?: { revision?: unknown } } | null)?.header
  const rev = Number(header?.revision)
  return header !== undefined && Number.isSafeInteger(rev) && rev > 0 ? rev : null
}

/** See EtcdConnection.keptWatch. */
export class KeptWatch {
  readonly #conn: EtcdConnection
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #what: string
  readonly #build: (client: Etcd3) => Watcher
  readonly #on: { put?: (kv: IKeyValue) => void; delete?: (kv: IKeyValue) => void; connected?: () => void }
  readonly #unsubscribe: () => void
  #watcher: Watcher | null = null
  #timer: TimerHandle | null = null
  #closed = false

  constructor(
    conn: EtcdConnection,
    clock: Clock,
    logger: Logger,
    what: string,
    build: (client: Etcd3) => Watcher,
    on: { put?: (kv: IKeyValue) => void; delete?: (kv: IKeyValue) => void; connected?: () => void },
  ) {
    this.#conn = conn
    this.#clock = clock
    this.#logger = logger
    this.#what = what
    this.#build = build
    this.#on = on
    this.#unsubscribe = conn.onRewound(() => this.#restart(true))
    this.#start()
  }

  async cancel(): Promise<void> {
    this.#closed = true
    this.#unsubscribe()
    this.#clock.clearTimeout(this.#timer)
    const w = this.#watcher
    this.#watcher = null
    await w?.cancel().catch(() => undefined)
  }

  #start(): void {
    if (this.#closed) return
    // not awaited: with etcd away the watch connects when it is back
    const w = this.#build(this.#conn.client)
    this.#watcher = w
    w.on('put', (kv) => {
      if (this.#watcher === w) this.#on.put?.(kv)
    })
    w.on('delete', (kv) => {
      if (this.#watcher === w) this.#on.delete?.(kv)
    })
    w.on('connected', () => {
      if (this.#watcher === w) this.#on.connected?.()
    })
    w.on('error', (err) => {
      // etcd canceled it (a stream error is 'disconnected' and reconnects by itself): it delivers nothing more
      if (this.#watcher !== w) return
      this.#watcher = null
      this.#logger.warn({ watch: this.#what, err: (err as Error).message }, 'etcd canceled a watch; made again from now')
      this.#clock.clearTimeout(this.#timer)
      this.#timer = this.#clock.setTimeout(() => this.#start(), REWATCH_AFTER_MS)
    })
  }

  /** Drop the watch and make it again from now (its revision means nothing to a rewound etcd). */
  #restart(cancelOld: boolean): void {
    if (this.#closed) return
    const old = this.#watcher
    this.#watcher = null
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    if (old !== null && cancelOld) void old.cancel().catch(() => undefined)
    this.#start()
  }
}

/** The part of etcd3's (internal) watch manager that guardWatchStream wraps. */
interface WatchManagerInternals {
  handleResponse(res: unknown): void
  handleCreatedResponse(res: unknown): void
  handleError(err: Error): void
}

/**
 * etcd3 1.1 throws from its watch stream's data handler when its bookkeeping of watch ids
 * and etcd's answers disagree ('Failed to find watcher for IWatchResponse', seen when
 * etcd cancels watches resumed from a compacted revision): an uncaught exception, the
 * process would exit. Such a throw now drops the stream instead, as a stream error does:
 * every watch is made again and reads what it missed when it connects.
 */
function guardWatchStream(client: Etcd3, logger: Logger): void {
  const manager = (client as unknown as { watchManager?: WatchManagerInternals }).watchManager
  if (manager === undefined || typeof manager.handleResponse !== 'function' || typeof manager.handleCreatedResponse !== 'function' || typeof manager.handleError !== 'function') return
  for (const name of ['handleResponse', 'handleCreatedResponse'] as const) {
    const original = manager[name].bind(manager)
    manager[name] = (res: unknown) => {
      try {
        original(res)
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'etcd watch stream out of step; it is made again')
        manager.handleError(err as Error)
      }
    }
  }
}
