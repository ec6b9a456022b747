/**
 * The gate decision, pure: y's window figures against the limits, with 95% confidence
 * bounds so a handful of errors in a small sample is not a verdict, and x's figures as
 * the baseline for errors both pools share.
 */

import type { Config } from '../config/types.js'
import type { WindowFigures } from './window.js'

export type Verdict = 'pass' | 'fail' | 'none'
export type GateName = 'max_error_rate' | 'max_error_rate_over_x' | 'max_p99_ms'

export interface GateCheck {
  gate: GateName
  /** what was measured: y's error rate, y minus x, y's p99 in ms */
  figure: number
  limit: number
  verdict: Verdict
  detail: string
}

export interface GateReport {
  verdict: Verdict
  checks: GateCheck[]
  /** for a fail: every failing check's detail, joined; null otherwise */
  reason: string | null
  /** the first failing gate, null unless verdict is fail */
  gate: GateName | null
  x: WindowFigures
  y: WindowFigures
}

export interface Interval {
  low: number
  high: number
}

/** Wilson score interval of a proportion errors/n (z = 1.96: 95%); [0, 1] when n is 0. */
export function wilsonInterval(errors: number, n: number, z = 1.96): Interval {
  if (n <= 0) return { low: 0, high: 1 }
  const p = errors / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const centre = (p + z2 / (2 * n)) / denom
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) }
}

/**
 * Newcombe's hybrid score interval for the difference of two proportions a - b, built
 * from their Wilson intervals (method 10 in Newcombe 1998); sound for small samples and
 * rates near 0, where the plain normal interval is not.
 */
export function differenceInterval(aErrors: number, aN: number, bErrors: number, bN: number, z = 1.96): Interval {
  const pa = aN > 0 ? aErrors / aN : 0
  const pb = bN > 0 ? bErrors / bN : 0
  const a = wilsonInterval(aErrors, aN, z)
  const b = wilsonInterval(bErrors, bN, z)
  const d = pa - pb
  return {
    low: d - Math.sqrt((pa - a.low) ** 2 + (b.high - pb) ** 2),
    high: d + Math.sqrt((a.high - pa) ** 2 + (pb - b.low) ** 2),
  }
}

/** A figure for a reason string: two significant digits (0.083, 0.0012); floating-point dust (2.8e-17) is 0. */
export function fmt(n: number): string {
  if (Math.abs(n) < 1e-9) return '0'
  if (!Number.isFinite(n)) return String(n)
  return String(Number(n.toPrecision(2)))
}

/** y's figures against the gates: 'none' below min_requests, 'fail' with the failing checks, else 'pass'. */
export function evaluateGates(x: WindowFigures, y: WindowFigures, gates: Config['gates']): GateReport {
  const checks: GateCheck[] = []
  const enough = y.requests >= gates.min_requests
  const few = `too few y requests: ${y.requests} of ${gates.min_requests}`

  const w = wilsonInterval(y.errors, y.requests)
  checks.push({
    gate: 'max_error_rate',
    figure: y.error_rate,
    limit: gates.max_error_rate,
    verdict: !enough ? 'none' : w.low > gates.max_error_rate ? 'fail' : 'pass',
    detail: `error_rate ${fmt(y.error_rate)} ${w.low > gates.max_error_rate ? '>' : 'within'} ${gates.max_error_rate} over ${y.requests} requests (95% lower bound ${fmt(w.low)})`,
  })

  if (gates.max_error_rate_over_x !== undefined) {
    const limit = gates.max_error_rate_over_x
    const figure = y.error_rate - x.error_rate
    let verdict: Verdict
    let detail: string
    if (x.requests === 0) {
      // no baseline (x takes no traffic): max_error_rate alone guards y
      verdict = 'none'
      detail = `no x requests to compare with`
    } else {
      const d = differenceInterval(y.errors, y.requests, x.errors, x.requests)
      verdict = !enough ? 'none' : d.low > limit ? 'fail' : 'pass'
      detail = `error_rate_over_x ${fmt(figure)} ${d.low > limit ? '>' : 'within'} ${limit} (y ${fmt(y.error_rate)} over ${y.requests} requests, x ${fmt(x.error_rate)} over ${x.requests}; 95% lower bound ${fmt(d.low)})`
    }
    checks.push({ gate: 'max_error_rate_over_x', figure, limit, verdict, detail })
  }

  if (gates.max_p99_ms !== undefined) {
    const limit = gates.max_p99_ms
    // a y whose attempts all failed has no latency (p99 0); its error rate judges it
    const over = y.p99_ms > limit
    checks.push({
      gate: 'max_p99_ms',
      figure: y.p99_ms,
      limit,
      verdict: !enough ? 'none' : over ? 'fail' : 'pass',
      detail: `p99_ms ${Math.round(y.p99_ms)} ${over ? '>' : 'within'} ${limit} over ${y.requests} requests`,
    })
  }

  if (!enough) {
    for (const c of checks) c.detail = `${few}; ${c.detail}`
    return { verdict: 'none', checks, reason: null, gate: null, x, y }
  }
  const failing = checks.filter((c) => c.verdict === 'fail')
  if (failing.length > 0) {
    return { verdict: 'fail', checks, reason: failing.map((c) => c.detail).join('; '), gate: failing[0].gate, x, y }
  }
  return { verdict: 'pass', checks, reason: null, gate: null, x, y }
}
