/**
 * The PromQL gate shell: while a rollout runs, asks Prometheus (`/api/v1/query`) each
 * analysis.prometheus.interval for every query, and keeps each gate's verdict for the
 * current step (a new step starts with no verdicts: it holds until each has passed). A
 * fail is an event with the query, its value and its threshold, and gates.action.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { AnalysisConfig, PromGateConfig } from '../config/analysis.js'
import type { Config } from '../config/types.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import { undici } from '../undici-on-demand.js'
import type { LiveState } from '../state/types.js'
import { trip } from './act.js'
import { judgeProm, type PromReading, type PromVerdict, readPromAnswer } from './prom-answer.js'

/** Prometheus answers of a query a gate reads are small; more is refused */
const MAX_ANSWER = 1024 * 1024

export interface PromGatesOptions {
  analysis: AnalysisConfig
  gates: Config['gates']
  state: StateController
  events: EventLog
  clock: Clock
  logger: Logger
}

export class PromGates {
  #analysis: AnalysisConfig
  #gates: Config['gates']
  readonly #state: StateController
  readonly #events: EventLog
  readonly #clock: Clock
  readonly #logger: Logger
  /** this step's verdicts, by gate name */
  #verdicts = new Map<string, PromVerdict>()
  /** gates that failed in this step: said and acted on once */
  #failed = new Set<string>()
  #timer: TimerHandle | null = null
  #unsubscribe: (() => void) | null = null
  #running = false
  /** bumped on each step change: an answer to an older step's query is dropped */
  #epoch = 0

  constructor(options: PromGatesOptions) {
    this.#analysis = options.analysis
    this.#gates = options.gates
    this.#state = options.state
    this.#events = options.events
    this.#clock = options.clock
    this.#logger = options.logger
  }

  configure(analysis: AnalysisConfig, gates: Config['gates']): void {
    this.#analysis = analysis
    this.#gates = gates
    // queries added by a reload during a rollout are asked from now on
    if (this.#state.current.rollout?.status === 'running') this.#schedule(0)
  }

  get active(): boolean {
    return this.#analysis.prometheus !== undefined && this.#analysis.queries.length > 0
  }

  start(): void {
    if (this.#unsubscribe !== null) return
    this.#unsubscribe = this.#state.onChange((next, prev) => this.#stateChanged(next, prev))
    if (this.#state.current.rollout?.status === 'running') this.#schedule(0)
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Every gate's verdict in this step (none before its first answer). */
  verdicts(): PromVerdict[] {
    return this.#analysis.queries.map((q) => this.#verdicts.get(q.name) ?? judgeProm(q, { kind: 'none', why: 'not evaluated in this step yet' }))
  }

  /** Why the step must hold: a gate without a pass in this step; null when all passed (or none is configured). */
  holding(): string | null {
    if (!this.active) return null
    const waiting = this.verdicts().filter((v) => v.verdict !== 'pass')
    return waiting.length === 0 ? null : waiting.map((v) => v.detail).join('; ')
  }

  /** Ask every query once and judge; exposed for tests. */
  async evaluate(): Promise<PromVerdict[]> {
    const prom = this.#analysis.prometheus
    if (prom === undefined) return []
    const epoch = this.#epoch
    const out = await Promise.all(this.#analysis.queries.map((q) => this.#ask(prom, q)))
    if (epoch !== this.#epoch) return out
    for (const v of out) {
      this.#verdicts.set(v.gate, v)
      if (v.verdict === 'fail' && !this.#failed.has(v.gate)) {
        this.#failed.add(v.gate)
        await this.#fail(v)
      }
    }
    return out
  }

  async #ask(prom: NonNullable<AnalysisConfig['prometheus']>, gate: PromGateConfig): Promise<PromVerdict> {
    let high: PromReading
    let low: PromReading
    try {
      const url = new URL('api/v1/query', prom.url.endsWith('/') ? prom.url : `${prom.url}/`)
      url.searchParams.set('query', gate.query)
      const { request } = await undici()
      const res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(prom.timeout) })
      const parts: Buffer[] = []
      let length = 0
      for await (const chunk of res.body) {
        length += (chunk as Buffer).length
        if (length > MAX_ANSWER) throw new Error(`answer longer than ${MAX_ANSWER} bytes`)
        parts.push(chunk as Buffer)
      }
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'))
      } catch {
        body = undefined
      }
      // max is held to the largest series, min to the smallest
      low = readPromAnswer(res.statusCode, body, 'min')
      high = gate.max !== undefined ? readPromAnswer(res.statusCode, body, 'max') : low
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `Prometheus did not answer within ${prom.timeout} ms` : `Prometheus unreachable: ${(err as Error).message}`
      high = low = { kind: 'none', why }
    }
    return judgeProm(gate, high, low)
  }

  async #fail(v: PromVerdict): Promise<void> {
    const gate = this.#analysis.queries.find((q) => q.name === v.gate)
    const reason = `gate ${v.gate}: ${v.detail} (PromQL ${gate?.query ?? ''})`
    const details = { gate: v.gate, query: gate?.query, value: v.value, threshold: v.threshold }
    this.#events.add('gate.failed', { cause: 'gate', action: this.#gates.action, reason, ...details })
    this.#logger.warn(details, reason)
    try {
      await trip(this.#state, this.#gates.action, reason, details)
    } catch (err) {
      this.#logger.error({ err }, 'PromQL gate: acting on the fail failed')
    }
  }

  #schedule(ms: number): void {
    if (this.#timer !== null || this.#unsubscribe === null) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null
      void this.#tick()
    }, ms)
  }

  async #tick(): Promise<void> {
    if (this.#state.current.rollout?.status !== 'running' || !this.active) return
    if (!this.#running) {
      this.#running = true
      try {
        await this.evaluate()
      } catch (err) {
        this.#logger.error({ err }, 'PromQL gates not evaluated')
      } finally {
        this.#running = false
      }
    }
    this.#schedule(this.#analysis.prometheus?.interval ?? 10_000)
  }

  #stateChanged(next: Readonly<LiveState>, prev: Readonly<LiveState>): void {
    const r = next.rollout
    const p = prev.rollout
    if (r === null || p === null || r.started_at !== p.started_at || r.step !== p.step) {
      // a new step (or none): its verdicts start afresh
      this.#epoch++
      this.#verdicts = new Map()
      this.#failed = new Set()
      this.#clock.clearTimeout(this.#timer)
      this.#timer = null
    }
    if (r?.status === 'running') this.#schedule(0)
  }
}
