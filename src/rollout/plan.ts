/**
 * Rollout stepping, pure: given a rollout's progress, when its step began, the y requests
 * taken since and the gate's verdict, what to do now. A step moves on only when its hold
 * has passed and the gate passed on at least min_requests y requests of that step.
 */

import { duration } from '../control/figures.js'
import type { Verdict } from '../gates/verdict.js'
import type { RolloutProgress } from '../state/types.js'

export interface PlanInput {
  progress: Readonly<RolloutProgress>
  /** ms epoch the current step's hold began (afresh after a restart) */
  stepStartedAt: number
  now: number
  /** y requests recorded since the step began */
  stepRequests: number
  /** the gate's latest verdict */
  verdict: Verdict
  /** y requests in the gate's window, for the holding text when the window is short */
  windowRequests: number
  minRequests: number
}

export type HoldWhy = 'paused' | 'hold' | 'traffic' | 'gate'

/** What a step waits for when its hold is over but y's traffic is short. */
export interface Waiting {
  /** y requests counted so far: the step's, or the gate window's */
  requests: number
  needed: number
  /** at the step's rate so far, how long until `needed`; null when y has had none */
  eta_ms: number | null
}

export type PlanAction = { kind: 'hold'; why: HoldWhy; hold_left_ms: number; holding: string | null; waiting?: Waiting } | { kind: 'advance'; step: number } | { kind: 'finish' }

/** What a rollout should do now: hold (and why), advance to the next step, or finish. */
export function nextAction(input: PlanInput): PlanAction {
  const { progress, minRequests } = input
  const step = progress.steps[progress.step]
  const holdLeft = Math.max(0, input.stepStartedAt + step.hold - input.now)
  if (progress.status === 'paused') return { kind: 'hold', why: 'paused', hold_left_ms: holdLeft, holding: null }
  if (holdLeft > 0) return { kind: 'hold', why: 'hold', hold_left_ms: holdLeft, holding: null }
  // A step without a hold (the last one, usually) is applied and done; a step with y 0
  // has no y traffic to judge. Every other step must show the gate a passing sample.
  if (step.hold > 0 && step.y > 0) {
    // y's rate over the step so far predicts how long the wait is
    const elapsed = input.now - input.stepStartedAt
    const rate = elapsed > 0 ? input.stepRequests / elapsed : 0
    const eta = (have: number): number | null => (rate > 0 ? Math.round((minRequests - have) / rate) : null)
    if (input.stepRequests < minRequests) {
      const waiting = { requests: input.stepRequests, needed: minRequests, eta_ms: eta(input.stepRequests) }
      return { kind: 'hold', why: 'traffic', hold_left_ms: 0, holding: waitingText(`y has ${waiting.requests} of the ${minRequests} requests a step needs`, waiting.eta_ms), waiting }
    }
    if (input.verdict === 'none' && input.windowRequests >= minRequests) {
      // enough traffic, but a gate figure is over its limit without confidence yet (issue 16: pass slow)
      return { kind: 'hold', why: 'gate', hold_left_ms: 0, holding: 'a gate figure is over its limit, not yet with confidence' }
    }
    if (input.verdict === 'none') {
      // the step had its sample, but the window (shorter than the step) holds too few
      const waiting = { requests: input.windowRequests, needed: minRequests, eta_ms: eta(input.windowRequests) }
      return {
        kind: 'hold',
        why: 'traffic',
        hold_left_ms: 0,
        holding: waitingText(`the gate's window has ${waiting.requests} of the ${minRequests} y requests a verdict needs`, waiting.eta_ms),
        waiting,
      }
    }
    if (input.verdict === 'fail') return { kind: 'hold', why: 'gate', hold_left_ms: 0, holding: 'gate failing' }
  }
  if (progress.step + 1 >= progress.steps.length) return { kind: 'finish' }
  return { kind: 'advance', step: progress.step + 1 }
}

/** `y has 16 of the 30 requests a step needs; at the current rate that takes about 40 s`. */
function waitingText(have: string, etaMs: number | null): string {
  return etaMs === null ? `${have}; y has had no requests in this step yet` : `${have}; at the current rate that takes about ${duration(etaMs)}`
}
