/**
 * The rollout shell: walks a plan's steps through the StateController (every step change,
 * pause and resume is one persisted write), ticking on the clock, with the decision in
 * plan.ts. It serves the /v1/rollout endpoints (RolloutControl); a failing gate pauses a
 * rollout itself (gates/gatekeeper.ts), through the state.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { Config, RolloutStepConfig } from '../config/types.js'
import { CutoverError } from '../errors.js'
import type { Gatekeeper } from '../gates/gatekeeper.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import type { LiveState, RolloutProgress, RolloutStatus } from '../state/types.js'
import type { RolloutGuard } from './guard.js'
import { nextAction, type PlanAction, type Waiting } from './plan.js'
import { parseSteps } from './steps.js'

export const TICK_MS = 1000
/** the holding event is raised when waiting begins, then at most this often */
export const HOLDING_EVENT_EVERY_MS = 60_000

export interface RolloutRunnerOptions {
  config: Config['rollout']
  gates: Config['gates']
  state: StateController
  events: EventLog
  clock: Clock
  gatekeeper: Pick<Gatekeeper, 'yRequestsTotal' | 'verdict'>
  logger: Logger
  /** in a fleet, whether this replica walks the plan (the elected leader); absent: always */
  leads?: () => boolean
  /** issue 13: config drift, PromQL gates, shadow agreement and step hooks (src/analysis/) */
  guard?: RolloutGuard
}

export interface RolloutDescription {
  steps: RolloutStepConfig[]
  step: number
  status: RolloutStatus
  /** the live share of y */
  y: number
  hold_left_ms: number
  /** why a step whose hold is over does not move on, as a sentence; null otherwise */
  holding: string | null
  /** the figures behind `holding` when it waits for y traffic; null otherwise */
  waiting: Waiting | null
  started_at: string
}

export class RolloutRunner {
  #config: Config['rollout']
  #gates: Config['gates']
  readonly #state: StateController
  readonly #events: EventLog
  readonly #clock: Clock
  readonly #gatekeeper: Pick<Gatekeeper, 'yRequestsTotal' | 'verdict'>
  readonly #logger: Logger
  readonly #unsubscribe: () => void
  // the current step's clock, in memory only: a restart starts the hold afresh
  #stepStartedAt: number
  #stepMark: number
  #pausedAt: number | null = null
  #holdingEventAt: number | null = null
  #timer: TimerHandle | null = null
  #busy = false
  #stopped = false
  readonly #leads: () => boolean
  readonly #guard: RolloutGuard | undefined

  constructor(options: RolloutRunnerOptions) {
    this.#config = options.config
    this.#gates = options.gates
    this.#state = options.state
    this.#events = options.events
    this.#clock = options.clock
    this.#gatekeeper = options.gatekeeper
    this.#logger = options.logger
    this.#leads = options.leads ?? (() => true)
    this.#guard = options.guard
    this.#stepStartedAt = this.#clock.now()
    this.#stepMark = this.#gatekeeper.yRequestsTotal()
    this.#unsubscribe = this.#state.onChange((next, prev) => this.#stateChanged(next, prev))
  }

  /** New plan and gate limits on reload; a running rollout keeps the steps it started with. */
  configure(config: Config['rollout'], gates: Config['gates']): void {
    this.#config = config
    this.#gates = gates
  }

  /** At start-up: a persisted running rollout goes on at its step with its hold afresh; a paused one stays paused. */
  resumeAfterRestart(): RolloutDescription | null {
    const r = this.#state.current.rollout
    if (r === null) return null
    this.#beginStep(r)
    const step = r.steps[r.step]
    const reason =
      r.status === 'running'
        ? `restarted: step ${r.step + 1} of ${r.steps.length} (y ${step.y}%) goes on, its hold started afresh`
        : `restarted: the rollout stays paused at step ${r.step + 1} of ${r.steps.length} (y ${step.y}%)`
    this.#events.add('rollout.restored', { cause: 'startup', step: r.step, of: r.steps.length, y: this.#state.current.y, status: r.status, reason })
    this.#logger.info({ step: r.step, status: r.status }, reason)
    this.#ensureTicking()
    return this.describe()
  }

  /** Start the body's steps (validated here) or the configured plan. */
  async start(rawSteps?: unknown, options: { force?: boolean } = {}): Promise<RolloutDescription | null> {
    const steps = rawSteps === undefined ? this.#config?.steps.map((s) => ({ ...s })) : parseSteps(rawSteps)
    if (steps === undefined) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'no rollout plan: configure rollout.steps or send steps')
    const started_at = new Date(this.#clock.now()).toISOString()
    const guard = this.#guard
    if (guard !== undefined) {
      const refusal = guard.startRefusal(options.force === true)
      if (refusal !== null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', `rollout not started: ${refusal}`)
      const first = firstStepFor(steps, this.#state.current.y)
      const held = await guard.beforeMove({ steps, step: first, status: 'running', started_at }, null, first)
      if (held !== null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', `rollout not started: ${held}`)
    }
    await this.#state.update(
      (s) => {
        if (s.locked) throw new CutoverError('CUTOVER_ERR_LOCKED', `split is locked: ${s.lock_reason ?? 'rolled back'}; POST /v1/unlock first`)
        if (s.rollout !== null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_RUNNING', 'a rollout is already running')
        const first = firstStepFor(steps, s.y)
        return { ...s, y: steps[first].y, rollout: { steps, step: first, status: 'running', started_at } }
      },
      (next, prev) => ({ type: 'rollout.started', cause: 'api', details: { steps, step: next.rollout?.step ?? 0, of: steps.length, from: prev.y, to: next.y } }),
    )
    return this.describe()
  }

  /** Hold the current step and split until resume. */
  async pause(): Promise<RolloutDescription | null> {
    await this.#state.update(
      (s) => {
        if (s.rollout === null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'no rollout is running')
        if (s.rollout.status === 'paused') throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'the rollout is already paused')
        return { ...s, rollout: { ...s.rollout, status: 'paused' } }
      },
      (next) => ({ type: 'rollout.paused', cause: 'api', details: { step: next.rollout?.step, of: next.rollout?.steps.length, y: next.y } }),
    )
    return this.describe()
  }

  /** Go on with a paused rollout; the hold continues where the pause stopped it. */
  async resume(): Promise<RolloutDescription | null> {
    await this.#state.update(
      (s) => {
        if (s.rollout === null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'no rollout is running')
        if (s.rollout.status !== 'paused') throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'the rollout is not paused')
        return { ...s, rollout: { ...s.rollout, status: 'running' } }
      },
      (next) => ({ type: 'rollout.resumed', cause: 'api', details: { step: next.rollout?.step, of: next.rollout?.steps.length, y: next.y } }),
    )
    return this.describe()
  }

  /** Jump to y 100 and finish the rollout. */
  async promote(): Promise<RolloutDescription | null> {
    await this.#state.update(
      (s) => {
        if (s.rollout === null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'no rollout is running')
        return { ...s, y: 100, rollout: null }
      },
      (next, prev) => ({ type: 'rollout.promoted', cause: 'api', details: { step: prev.rollout?.step, from: prev.y, to: next.y } }),
    )
    return this.describe()
  }

  /** Roll back (y 0, locked) and stop the rollout, as POST /v1/rollback does. */
  async abort(reason?: string): Promise<RolloutDescription | null> {
    if (this.#state.current.rollout === null) throw new CutoverError('CUTOVER_ERR_ROLLOUT_STATE', 'no rollout is running')
    await this.#state.rollback(reason ?? 'rollout aborted via API', 'api', { rollout_aborted: true })
    return this.describe()
  }

  /** For /v1/state: the rollout in progress, or null. */
  describe(): RolloutDescription | null {
    const s = this.#state.current
    const r = s.rollout
    if (r === null) return null
    const action = this.#decide(r)
    return {
      steps: r.steps,
      step: r.step,
      status: r.status,
      y: s.y,
      hold_left_ms: action.kind === 'hold' ? action.hold_left_ms : 0,
      holding: action.kind === 'hold' ? action.holding : null,
      waiting: action.kind === 'hold' ? (action.waiting ?? null) : null,
      started_at: r.started_at,
    }
  }

  /** Stop ticking and listening; the persisted progress stays for the next start. */
  stop(): void {
    this.#stopped = true
    this.#halt()
    this.#unsubscribe()
  }

  #decide(r: Readonly<RolloutProgress>): PlanAction {
    const report = this.#gatekeeper.verdict()
    const action = nextAction({
      progress: r,
      stepStartedAt: this.#stepStartedAt,
      // a paused hold stands still
      now: r.status === 'paused' && this.#pausedAt !== null ? this.#pausedAt : this.#clock.now(),
      stepRequests: this.#gatekeeper.yRequestsTotal() - this.#stepMark,
      verdict: report.verdict,
      windowRequests: report.y.requests,
      minRequests: this.#gates.min_requests,
    })
    if (action.kind === 'hold' || this.#guard === undefined) return action
    const holding = this.#guard.holding(r)
    return holding === null ? action : { kind: 'hold', why: 'gate', hold_left_ms: 0, holding }
  }

  #tick = (): void => {
    this.#timer = null
    if (this.#stopped) return
    const r = this.#state.current.rollout
    if (r === null) return
    this.#timer = this.#clock.setTimeout(this.#tick, TICK_MS)
    // another replica leads the fleet: it walks the plan, this one follows the shared state
    if (this.#busy || r.status !== 'running' || !this.#leads()) return
    const action = this.#decide(r)
    if (action.kind === 'hold') {
      if (action.why === 'traffic' || action.why === 'gate') this.#holdingEvent(r, action.holding)
      // the hold ends before the next tick: look again when it does, not up to a tick late (a
      // step begins when its write lands, a few ms after the tick that moved it, so a 1 s hold
      // took 2 s)
      else if (action.why === 'hold' && action.hold_left_ms < TICK_MS) {
        this.#clock.clearTimeout(this.#timer)
        this.#timer = this.#clock.setTimeout(this.#tick, action.hold_left_ms)
      }
      return
    }
    const to = action.kind === 'advance' ? action.step : r.step
    const y = r.steps[to].y
    this.#busy = true
    const guard = this.#guard
    if (guard !== undefined) {
      // the step hooks say yes first; a no holds the step with its reason
      guard.beforeMove(r, r.step, action.kind === 'advance' ? to : null).then(
        (held) => {
          if (held === null) return this.#move(r, action, to, y)
          this.#busy = false
          this.#holdingEvent(r, held)
        },
        (err: unknown) => {
          this.#busy = false
          this.#logger.error({ err }, 'rollout step hooks failed')
        },
      )
      return
    }
    this.#move(r, action, to, y)
  }

  #move(r: Readonly<RolloutProgress>, action: PlanAction, to: number, y: number): void {
    this.#state
      .update(
        (s) => {
          // only if nothing changed the rollout since this tick decided
          const cur = s.rollout
          if (cur === null || cur.started_at !== r.started_at || cur.step !== r.step || cur.status !== 'running') return null
          return action.kind === 'advance' ? { ...s, y, rollout: { ...cur, step: to } } : { ...s, y, rollout: null }
        },
        (next, prev) =>
          action.kind === 'advance'
            ? { type: 'rollout.step', cause: 'rollout', details: { step: to, of: r.steps.length, from: prev.y, to: next.y } }
            : { type: 'rollout.done', cause: 'rollout', details: { steps: r.steps.length, from: prev.y, to: next.y } },
      )
      .then(
        () => {
          this.#busy = false
        },
        (err: unknown) => {
          // not on disk, nothing changed: the next tick tries again
          this.#busy = false
          this.#logger.error({ err }, 'rollout step not applied')
        },
      )
  }

  #holdingEvent(r: Readonly<RolloutProgress>, holding: string | null): void {
    const now = this.#clock.now()
    if (this.#holdingEventAt !== null && now - this.#holdingEventAt < HOLDING_EVENT_EVERY_MS) return
    this.#holdingEventAt = now
    const reason = `holding: ${holding}`
    this.#events.add('rollout.holding', { cause: 'rollout', step: r.step, of: r.steps.length, y: this.#state.current.y, holding, reason })
  }

  #beginStep(r: Readonly<RolloutProgress>): void {
    this.#stepStartedAt = this.#clock.now()
    this.#stepMark = this.#gatekeeper.yRequestsTotal()
    this.#holdingEventAt = null
    this.#pausedAt = r.status === 'paused' ? this.#stepStartedAt : null
  }

  #ensureTicking(): void {
    if (this.#timer === null && !this.#stopped) this.#timer = this.#clock.setTimeout(this.#tick, TICK_MS)
  }

  #halt(): void {
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  #stateChanged(next: Readonly<LiveState>, prev: Readonly<LiveState>): void {
    const r = next.rollout
    const p = prev.rollout
    if (r === null) {
      // finished, promoted, or stopped by a rollback: nothing left to tick for
      this.#halt()
      this.#pausedAt = null
      return
    }
    if (p === null || p.started_at !== r.started_at || p.step !== r.step) {
      this.#beginStep(r)
    } else if (r.status === 'paused' && p.status === 'running') {
      this.#pausedAt = this.#clock.now()
    } else if (r.status === 'running' && p.status === 'paused') {
      if (this.#pausedAt !== null) this.#stepStartedAt += this.#clock.now() - this.#pausedAt
      this.#pausedAt = null
    }
    this.#ensureTicking()
  }
}

/**
 * Where a plan starts given y's share now: its first step at or above it, so starting a
 * rollout never pulls y back. A share above every step is refused: nothing to walk.
 */
export function firstStepFor(steps: readonly RolloutStepConfig[], y: number): number {
  const i = steps.findIndex((s) => s.y >= y)
  if (i < 0) {
    const plan = steps.map((s) => `${s.y}%`).join(' → ')
    throw new CutoverError(
      'CUTOVER_ERR_ROLLOUT_STATE',
      `y is at ${y}%, above every step of the plan (${plan}); a rollout would pull it back. Set the split to ${steps[0].y}% or less first, or send steps that go above ${y}%`,
    )
  }
  return i
}
