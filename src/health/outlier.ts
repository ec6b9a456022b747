/**
 * Passive outlier detection, after Envoy's: consecutive gateway failures eject a node for
 * a while, doubled on each repeated ejection up to a cap, and the count of repeats is
 * forgotten after a healthy spell. Pure functions of (state, outcome, now). They update
 * the state record in place because recordSuccess/recordFailure run once per proxied
 * request and must not allocate.
 */

import type { FailureKind } from '../outcome/outcome-sink.js'

/** Longest ejection, and the healthy spell that resets the doubling, in units of eject_for. */
export const EJECT_CAP_FACTOR = 10
export const STREAK_RESET_FACTOR = 10

/** A failure kind from the forwarder, or the status of a gateway error answer (502/503/504). */
export type FailureCause = FailureKind | number

export interface PassiveConfig {
  max_failures: number
  /** ms */
  eject_for: number
}

export interface OutlierState {
  /** failures in a row since the last success or ejection */
  failures: number
  /** the latest failure, named in the ejection's cause */
  lastCause: FailureCause
  /** ms epoch the current or latest ejection ends; 0 when never ejected */
  ejectedUntil: number
  /** ejections in the current streak: the doubling exponent */
  streak: number
}

/** State for a node that has not failed yet. */
export function newOutlierState(): OutlierState {
  return { failures: 0, lastCause: 'connect', ejectedUntil: 0, streak: 0 }
}

/** True when status is a gateway error that counts against the node. */
export function isGatewayFailure(status: number): boolean {
  return status === 502 || status === 503 || status === 504
}

/** A non-failure answer (2xx..4xx, ordinary 500s): the count starts over. */
export function recordSuccess(state: OutlierState): void {
  if (state.failures !== 0) state.failures = 0
}

/**
 * Count one failure. Returns true when the node has reached max_failures and is not
 * ejected already: the caller then asks eject() with the pool's other usable nodes.
 * Failures of requests that were in flight while the node was ejected are not counted.
 */
export function recordFailure(state: OutlierState, cause: FailureCause, now: number, config: PassiveConfig): boolean {
  if (now < state.ejectedUntil) return false
  state.failures++
  state.lastCause = cause
  return state.failures >= config.max_failures
}

/** How long the n-th ejection of a streak lasts (n from 1): eject_for doubled, capped. */
export function ejectionDuration(n: number, ejectFor: number): number {
  const cap = EJECT_CAP_FACTOR * ejectFor
  // 2^30 overflows nothing and is far past any cap
  const d = ejectFor * 2 ** Math.min(Math.max(n - 1, 0), 30)
  return Math.min(d, cap)
}

/**
 * Eject the node now unless it is the last usable one of its pool (otherUsable = 0).
 * Returns the ejection's length in ms, or 0 when it was refused or not due.
 */
export function eject(state: OutlierState, now: number, otherUsable: number, config: PassiveConfig): number {
  if (now < state.ejectedUntil || state.failures < config.max_failures) return 0
  // the last usable node keeps serving: a degraded answer beats none; the count stays, so
  // it goes as soon as another node is usable and it fails again
  if (otherUsable <= 0) return 0
  if (state.ejectedUntil > 0 && now - state.ejectedUntil >= STREAK_RESET_FACTOR * config.eject_for) state.streak = 0
  state.streak++
  const ms = ejectionDuration(state.streak, config.eject_for)
  state.ejectedUntil = now + ms
  state.failures = 0
  return ms
}

/** Why the node was ejected, for the event: `ejected after 5 failures: 502`. */
export function ejectionCause(state: OutlierState, config: PassiveConfig): string {
  return `ejected after ${config.max_failures} failures: ${state.lastCause}`
}
