/**
 * The gate shell: records each pool's outcomes into its sliding window (hot path, O(1)),
 * evaluates the gates every second and at once when y's errors could already fail them,
 * and acts on a fail verdict, the one place that does: roll back, or pause a running
 * rollout, each a write through the StateController (so it needs no rollout runner).
 * A fleet's leader runs one more over the fleet's summed windows (a GateSource): the same
 * verdict, spans and acts, over every replica's traffic.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { Config, PoolName } from '../config/types.js'
import { type FailureKind, isFailedAnswer, type OutcomeSink } from '../outcome/outcome-sink.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import type { LiveState } from '../state/types.js'
import type { UpstreamNode } from '../upstream/node.js'
import { type GateSource, PoolWindows } from './gate-source.js'
import { evaluateGates, type GateCheck, type GateReport, type Verdict } from './verdict.js'
import type { WindowFigures } from './window.js'

export const EVALUATE_EVERY_MS = 1000
/** the fastest the error path may re-evaluate: at most ten times a second */
export const FAST_EVALUATE_MIN_MS = 100

export interface GatekeeperOptions {
  gates: Config['gates']
  state: StateController
  events: EventLog
  clock: Clock
  logger: Logger
  /** figures from elsewhere (a fleet's sum); absent: this replica's own windows, fed by the outcomes recorded here */
  source?: GateSource
  /** whether a fail may be acted on now (a fleet: only its leader acts); absent: always */
  mayAct?: () => boolean
  /** what the verdict is over, for the reason ("over the fleet's traffic (3 replicas)") and the event's details */
  scope?: () => { label: string; details: Record<string, unknown> }
}

export interface GatesDescription {
  x: WindowFigures
  y: WindowFigures
  verdict: Verdict
  checks: GateCheck[]
  /** ISO time of the last evaluation; null before the first */
  evaluated_at: string | null
}

export class Gatekeeper implements OutcomeSink {
  #gates: Config['gates']
  readonly #state: StateController
  readonly #events: EventLog
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #source: GateSource
  /** the windows outcomes are recorded into; null when the figures come from elsewhere */
  readonly #local: PoolWindows | null
  readonly #mayAct: () => boolean
  readonly #scope: GatekeeperOptions['scope']
  /** y requests ever recorded; the rollout runner counts a step's requests from a mark */
  #yTotal = 0
  #report: GateReport
  #evaluatedAt = -Infinity
  #acting = false
  #timer: TimerHandle | null = null
  #unsubscribe: (() => void) | null = null

  constructor(options: GatekeeperOptions) {
    this.#gates = options.gates
    this.#state = options.state
    this.#events = options.events
    this.#clock = options.clock
    this.#logger = options.logger
    this.#local = options.source === undefined ? new PoolWindows(this.#gates.window, this.#clock) : null
    this.#source = options.source ?? this.#local!
    this.#mayAct = options.mayAct ?? (() => true)
    this.#scope = options.scope
    this.#report = this.#evaluateNow()
  }

  /** Evaluate every second and follow state changes (window resets), until stop(). */
  start(): void {
    if (this.#timer !== null) return
    this.#unsubscribe = this.#state.onChange((next, prev) => this.#stateChanged(next, prev))
    const tick = (): void => {
      this.#timer = this.#clock.setTimeout(tick, EVALUATE_EVERY_MS)
      this.evaluate()
    }
    this.#timer = this.#clock.setTimeout(tick, EVALUATE_EVERY_MS)
  }

  /** Stop the timer and the state listener. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    this.#unsubscribe?.()
    this.#unsubscribe = null
  }

  /** New gate limits on reload; a new window size starts both windows afresh. */
  configure(gates: Config['gates']): void {
    this.#source.setWindow(gates.window)
    this.#gates = gates
  }

  // OutcomeSink, on the hot path: O(1), no allocation. Only answers and failed attempts count.
  attemptFailed(node: UpstreamNode, _kind: FailureKind): void {
    this.#record(node.pool, true, undefined)
  }

  answered(node: UpstreamNode, status: number, ms: number, grpcFailed?: boolean): void {
    this.#record(node.pool, isFailedAnswer(status, grpcFailed), ms)
  }

  /** y requests recorded since the process started; a step counts from a mark of this. */
  yRequestsTotal(): number {
    return this.#yTotal
  }

  /** The latest gate report. */
  verdict(): GateReport {
    return this.#report
  }

  /** Evaluate the gates now, act on a fail, and return the report. */
  evaluate(): GateReport {
    const now = this.#clock.now()
    const report = this.#evaluateNow()
    const previous = this.#report.verdict
    this.#report = report
    this.#evaluatedAt = now
    if (report.verdict === 'fail') this.#act(report, previous)
    return report
  }

  /** For /v1/state and the metrics scrape: the last evaluation's figures and checks. */
  describe(): GatesDescription {
    const r = this.#report
    return {
      // the windows as the last evaluation saw them (SPEC's four figures), so the figures
      // and the checks' words beside them in ctl and the console agree (issue 16)
      x: windowOnly(r.x),
      y: windowOnly(r.y),
      verdict: r.verdict,
      checks: r.checks,
      evaluated_at: Number.isFinite(this.#evaluatedAt) ? new Date(this.#evaluatedAt).toISOString() : null,
    }
  }

  #evaluateNow(): GateReport {
    const f = this.#source.figures(this.#gates.max_p99_ms)
    return evaluateGates(f.x, f.y, this.#gates)
  }

  #record(pool: PoolName, isError: boolean, ms: number | undefined): void {
    const w = this.#local
    if (w === null) return
    if (pool === 'x') {
      w.x.record(isError, ms)
      return
    }
    const y = w.y
    y.record(isError, ms)
    this.#yTotal++
    // The fast path: a y error re-evaluates at once (at most every 100 ms) when the
    // window's point figures already break a limit, a cheap near-necessary condition for
    // a fail (a lower bound above a limit needs the point figure above it too; the 1 s
    // tick catches the rest). A fail needs no min_requests: a y failing everything is
    // judged on its first few errors, within 100 ms.
    if (!isError) return
    if (this.#clock.now() - this.#evaluatedAt < FAST_EVALUATE_MIN_MS) return
    const rate = y.errors / y.requests
    const overX = this.#gates.max_error_rate_over_x
    const xRate = w.x.requests > 0 ? w.x.errors / w.x.requests : 0
    if (rate > this.#gates.max_error_rate || (overX !== undefined && rate - xRate > overX)) this.evaluate()
  }

  #act(report: GateReport, previous: Verdict): void {
    const s = this.#state.current
    if (s.y <= 0 || s.locked || this.#acting || !this.#mayAct()) return
    const scope = this.#scope?.()
    const reason = `gate ${report.gate}${scope ? ` ${scope.label}` : ''}: ${report.reason}`
    const details = { gate: report.gate, figures: { x: report.x, y: report.y }, checks: report.checks, ...scope?.details }
    if (this.#gates.action === 'rollback') {
      this.#logger.warn({ gate: report.gate, figures: details.figures }, `gate failed, rolling back: ${reason}`)
      this.#write('rollback', this.#state.rollback(reason, 'gate', details))
      return
    }
    // action pause: hold a running rollout at its step and split (one persisted write, like
    // the API's pause), else just say so once per episode
    if (s.rollout?.status === 'running') {
      this.#logger.warn({ gate: report.gate }, `gate failed, pausing the rollout: ${reason}`)
      const pausing = this.#state.update(
        (cur) => (cur.rollout?.status === 'running' ? { ...cur, rollout: { ...cur.rollout, status: 'paused' } } : null),
        (next) => ({ type: 'rollout.paused', cause: 'gate', details: { step: next.rollout?.step, of: next.rollout?.steps.length, y: next.y, reason } }),
      )
      this.#write('pause', pausing)
    }
    if (previous !== 'fail') this.#events.add('gate.failed', { cause: 'gate', action: 'pause', reason, ...details })
  }

  /** One act's state write under way: no other until it ends; one that fails is tried again by the next evaluation. */
  #write(act: 'rollback' | 'pause', writing: Promise<unknown>): void {
    this.#acting = true
    writing.then(
      () => {
        this.#acting = false
      },
      (err: unknown) => {
        this.#acting = false
        this.#logger.error({ err }, `gate ${act} failed`)
      },
    )
  }

  #stateChanged(next: Readonly<LiveState>, prev: Readonly<LiveState>): void {
    // y's old errors must not trip a fresh start: forget them when y leaves or rejoins
    // (and x's counts start again with y's, so y is compared with x over the same time)
    if ((prev.y > 0 && next.y === 0) || (prev.y === 0 && next.y > 0) || (next.locked && !prev.locked)) {
      this.#source.resetY()
      this.#report = this.#evaluateNow()
    }
  }
}

function windowOnly(f: WindowFigures): WindowFigures {
  return { requests: f.requests, errors: f.errors, error_rate: f.error_rate, p99_ms: f.p99_ms }
}
