/**
 * The rollout guard of issue 13: a start is refused while x and y serve different configs
 * (unless forced); a step holds while a PromQL gate has not passed in it, and the first
 * step while y's shadow answers have not agreed with x's on enough requests; the step
 * hooks are called before each move, and a no holds the rollout until a retry.
 */

import type { Clock } from '../clock.js'
import type { AnalysisConfig } from '../config/analysis.js'
import type { Config } from '../config/types.js'
import type { RolloutGuard } from '../rollout/guard.js'
import type { RolloutProgress } from '../state/types.js'
import { callHook, type HookPhase } from './hooks.js'
import type { ShadowMark, ShadowResults } from '../shadow/results.js'

export interface GuardSources {
  analysis: () => AnalysisConfig
  gates: () => Config['gates']
  /** why x and y may not take a rollout now (config drift), or null */
  driftRefusal: () => string | null
  /** PromQL gates: why the step holds, or null */
  promHolding: () => string | null
  shadow: ShadowResults
  clock: Clock
  /** the hook call; tests may stand in for it */
  callHook?: typeof callHook
}

export interface HookResult {
  phase: HookPhase
  step: number
  ok: boolean
  reason: string | null
  at: string
}

export class AnalysisGuard implements RolloutGuard {
  readonly #s: GuardSources
  readonly #call: typeof callHook
  /** the rollout (started_at) the shadow counts are marked for, and the mark */
  #markFor: string | null = null
  #mark: ShadowMark = { match: 0, mismatch: 0 }
  /** a hook's no: held with this reason until retryAt */
  #hookHeld: { reason: string; retryAt: number } | null = null
  /** `started_at:step` whose after_hold hook said yes: not asked again on a retry */
  #afterHoldDone: string | null = null
  lastHook: HookResult | null = null

  constructor(sources: GuardSources) {
    this.#s = sources
    this.#call = sources.callHook ?? callHook
  }

  startRefusal(force: boolean): string | null {
    return force ? null : this.#s.driftRefusal()
  }

  holding(r: Readonly<RolloutProgress>): string | null {
    const held = this.#hookHeld
    if (held !== null && this.#s.clock.now() < held.retryAt) return held.reason
    const prom = this.#s.promHolding()
    if (prom !== null) return `PromQL: ${prom}`
    return r.step === 0 ? this.shadowHolding(r) : null
  }

  /** The first step's shadow check: enough compared answers since the rollout started, few enough disagreeing. */
  shadowHolding(r: Readonly<RolloutProgress>): string | null {
    const max = this.#s.gates().max_shadow_mismatch_rate
    if (max === undefined) return null
    if (this.#markFor !== r.started_at) this.#markShadow(r.started_at)
    const need = this.#s.gates().min_requests
    const { compared, mismatches } = this.#s.shadow.since(this.#mark)
    if (compared < need) return `shadow: ${compared} of the ${need} compared answers the first step needs`
    const rate = mismatches / compared
    if (rate > max) return `shadow: y disagrees with x on ${mismatches} of ${compared} answers (${round(rate)} > max_shadow_mismatch_rate ${max}); see GET /v1/shadow`
    return null
  }

  async beforeMove(r: Readonly<RolloutProgress>, from: number | null, to: number | null): Promise<string | null> {
    // the shadow counts of a rollout start at its start (after a restart, at the first look)
    if (from === null) this.#markShadow(r.started_at)
    const hooks = this.#s.analysis().hooks
    if (from !== null && hooks.after_hold !== undefined) {
      const key = `${r.started_at}:${from}`
      if (this.#afterHoldDone !== key) {
        const held = await this.#hook('after_hold', hooks.after_hold, r, from, hooks.timeout)
        if (held !== null) return held
        this.#afterHoldDone = key
      }
    }
    if (to !== null && hooks.before_step !== undefined) {
      const held = await this.#hook('before_step', hooks.before_step, r, to, hooks.timeout)
      if (held !== null) return held
    }
    this.#hookHeld = null
    return null
  }

  #markShadow(startedAt: string): void {
    this.#markFor = startedAt
    this.#mark = this.#s.shadow.mark()
  }

  async #hook(phase: HookPhase, url: string, r: Readonly<RolloutProgress>, step: number, timeout: number): Promise<string | null> {
    const reason = await this.#call(url, { phase, step, of: r.steps.length, y: r.steps[step].y, rollout_started_at: r.started_at }, timeout)
    const now = this.#s.clock.now()
    this.lastHook = { phase, step, ok: reason === null, reason, at: new Date(now).toISOString() }
    if (reason !== null) this.#hookHeld = { reason, retryAt: now + this.#s.analysis().hooks.retry }
    return reason
  }
}

function round(n: number): number {
  return Math.round(n * 10000) / 10000
}
