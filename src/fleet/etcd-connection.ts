/**
 * The fleet's one client of etcd: every call has a deadline, and its outcome says whether
 * the backend is up (any answer) or down (no answer: unreachable, timed out, refused).
 * A call that meets a dead member goes on at once to the next one (and that member is
 * skipped for a second), so losing one member of three changes nothing; with no member
 * answering, a control write fails fast with a clear 503, and the fleet's once-a-second
 * publish is what finds etcd back.
 */

import { circuitBreaker, ConsecutiveBreaker, ConstantBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel'
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3'
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
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
  #health: BackendHealth
  #lastOk = -Infinity
  #closed = false

  constructor(config: EtcdConfig, clock: Clock, logger: Logger) {
    this.client = new Etcd3(etcdOptions(config))
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

  /** Run one etcd call with a deadline; an answer marks the backend up, no answer marks it down and rejects. */
  async call<T>(what: string, run: (options: CallOptions) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error('etcd client closed')
    let result: T
    try {
      result = await run({})
    } catch (err) {
      if (this.#clock.now() - this.#lastOk >= DOWN_AFTER_MS) this.markDown(`${what}: ${(err as Error).message}`)
      throw err
    }
    this.#lastOk = this.#clock.now()
    this.markUp()
    return result
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
