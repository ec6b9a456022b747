/**
 * The threshold arithmetic of active health checks: consecutive successes and failures,
 * and when they turn into a verdict. Pure: no I/O, no timers.
 */

import type { ActiveHealthConfig } from '../config/types.js'

/** What one probe found. ok: a 2xx answer within the timeout. */
export interface ProbeResult {
  ok: boolean
  status?: number
  /** why it failed: `connection refused`, `timeout after 1000ms`, `status 503` */
  error?: string
  ms: number
}

/** Probes in a row with the same outcome; one of the two is always 0. */
export interface ProbeCounters {
  successes: number
  failures: number
}

export interface ProbeTransition {
  healthy: boolean
  /** for the event and the log: `probe passed 2/2`, `probe failed 2/2: connection refused` */
  cause: string
}

export interface ProbeStep {
  counters: ProbeCounters
  /** null when the verdict stays as it was */
  transition: ProbeTransition | null
}

export type ProbeThresholds = Pick<ActiveHealthConfig, 'healthy_threshold' | 'unhealthy_threshold'>

/** Fresh counters for a node nobody has probed yet. */
export function initialCounters(): ProbeCounters {
  return { successes: 0, failures: 0 }
}

/** Why a probe failed, in words; status-only failures read `status 503`. */
export function probeFailureText(result: ProbeResult): string {
  if (result.error) return result.error
  if (result.status !== undefined) return `status ${result.status}`
  return 'failed'
}

/**
 * Count one probe result against the current verdict (true, false, or null for none yet)
 * and say whether the verdict flips.
 */
export function applyProbe(healthy: boolean | null, counters: ProbeCounters, result: ProbeResult, thresholds: ProbeThresholds): ProbeStep {
  if (result.ok) {
    const next = { successes: counters.successes + 1, failures: 0 }
    const n = thresholds.healthy_threshold
    if (healthy !== true && next.successes >= n) {
      return { counters: next, transition: { healthy: true, cause: `probe passed ${n}/${n}` } }
    }
    return { counters: next, transition: null }
  }
  const next = { successes: 0, failures: counters.failures + 1 }
  const n = thresholds.unhealthy_threshold
  if (healthy !== false && next.failures >= n) {
    return { counters: next, transition: { healthy: false, cause: `probe failed ${n}/${n}: ${probeFailureText(result)}` } }
  }
  return { counters: next, transition: null }
}
