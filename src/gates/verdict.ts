/**
 * The gate decision, pure: y's figures against the limits, with x's as the baseline for
 * errors both pools share. Fail fast, pass slow: y fails as soon as a time-uniform bound
 * (confidence-sequence.ts) puts it above a limit, at any volume; it passes only with
 * min_requests in the window and the window's figures within the limits. The bound holds
 * however often the gate looks, so the chance that a y within its limits is ever rolled
 * back while it takes traffic stays below gates.risk.
 */

import type { Config } from '../config/types.js'
import { logEvidenceAbove, timeUniformLower, timeUniformUpper } from './confidence-sequence.js'
import type { Span, WindowFigures } from './window.js'

export type Verdict = 'pass' | 'fail' | 'none'
export type GateName = 'max_error_rate' | 'max_error_rate_over_x' | 'max_p99_ms'

export interface GateCheck {
  gate: GateName
  /** what was measured: y's error rate, y minus x, y's p99 in ms */
  figure: number
  limit: number
  verdict: Verdict
  detail: string
  /** the time-uniform lower bound behind the verdict: of y's error rate, of y minus x, of y's share of slow answers */
  bound: number
  /** the evidence (mixture likelihood ratio) and the level it must reach to fail, 1 / its share of the risk; 0 for error_rate_over_x, judged on two bounds */
  evidence: number
  threshold: number
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

/** A figure for a reason string: two significant digits (0.083, 0.0012); floating-point dust (2.8e-17) is 0. */
export function fmt(n: number): string {
  if (Math.abs(n) < 1e-9) return '0'
  if (!Number.isFinite(n)) return String(n)
  return String(Number(n.toPrecision(2)))
}

/** The risk when the config says none (callers that build the limits by hand). */
export const DEFAULT_RISK = 0.05
/** the p99 gate: y fails when more than 1% of its answers are slower than the limit */
const P99_SHARE = 0.01

export type GateLimits = Omit<Config['gates'], 'risk'> & { risk?: number }

/**
 * The share of the risk one span of one gate may spend. The risk is split equally among
 * the configured gates; within a gate, 3/4 goes to the span since y took traffic and 1/4
 * to the spans started at each window boundary after it, 1/(j(j+1)) of that quarter to
 * the j-th, so the shares add up to the gate's however long y runs (a union bound).
 */
export function spanRisk(risk: number, gateCount: number, start: number): number {
  const gate = risk / gateCount
  return start === 0 ? gate * 0.75 : (gate * 0.25) / (start * (start + 1))
}

/**
 * y's figures against the gates. 'fail' once a time-uniform bound puts y over a limit,
 * at any volume; 'pass' with min_requests in the window and every figure there within its
 * limit; else 'none': too few requests, or over a limit without confidence (a step holds).
 */
export function evaluateGates(x: WindowFigures, y: WindowFigures, gates: GateLimits): GateReport {
  const risk = gates.risk ?? DEFAULT_RISK
  const gateCount = 1 + (gates.max_error_rate_over_x !== undefined ? 1 : 0) + (gates.max_p99_ms !== undefined ? 1 : 0)
  const ctx: Judging = {
    ySpans: spansOf(y),
    share: (s) => spanRisk(risk, gateCount, s.start),
    enough: y.requests >= gates.min_requests,
    label: `${Number(((1 - risk) * 100).toPrecision(6))}% lower bound`,
  }
  const checks = [errorRateCheck(y, gates.max_error_rate, ctx)]
  if (gates.max_error_rate_over_x !== undefined) checks.push(overXCheck(x, y, gates.max_error_rate_over_x, ctx))
  if (gates.max_p99_ms !== undefined) checks.push(p99Check(y, gates.max_p99_ms, ctx))

  const failing = checks.filter((c) => c.verdict === 'fail')
  if (failing.length > 0) {
    return { verdict: 'fail', checks, reason: failing.map((c) => c.detail).join('; '), gate: failing[0].gate, x, y }
  }
  if (!ctx.enough) {
    const few = `too few y requests: ${y.requests} of ${gates.min_requests}`
    for (const c of checks) c.detail = `${few}; ${c.detail}`
    return { verdict: 'none', checks, reason: null, gate: null, x, y }
  }
  // without x traffic the over_x check has no verdict; max_error_rate alone guards y then
  const holding = checks.some((c) => c.verdict === 'none' && !(c.gate === 'max_error_rate_over_x' && x.requests === 0))
  return { verdict: holding ? 'none' : 'pass', checks, reason: null, gate: null, x, y }
}

/** What every check needs: y's spans, each span's share of the risk, whether the window may pass. */
interface Judging {
  ySpans: Span[]
  share: (s: Span) => number
  enough: boolean
  /** "95% lower bound" */
  label: string
}

function verdictOf(ctx: Judging, failed: boolean, within: boolean): Verdict {
  return failed ? 'fail' : ctx.enough && within ? 'pass' : 'none'
}

/** A check judged on one rate over y's spans: the verdict and the numbers behind it. */
function spanCheck(gate: GateName, figure: number, limit: number, within: boolean, j: Judged, ctx: Judging, detail: string): GateCheck {
  return { gate, figure, limit, verdict: verdictOf(ctx, j.failed, within), detail, bound: j.bound, evidence: j.evidence, threshold: j.threshold }
}

/** max_error_rate: the evidence that y's error rate is above the limit. */
function errorRateCheck(y: WindowFigures, limit: number, ctx: Judging): GateCheck {
  const j = judge(ctx, ERRORS, limit)
  const s = j.span
  const within = y.error_rate <= limit
  const detail = j.failed
    ? `error_rate ${fmt(rate(s.errors, s.requests))} > ${limit} over ${s.requests} requests (${ctx.label} ${fmt(j.bound)}) ${since(s)}; ${evidenceText(j)}`
    : `error_rate ${fmt(y.error_rate)} ${relation(within, limit)} over ${y.requests} requests in the window; ${ctx.label} ${fmt(j.bound)} over the ${s.requests} requests ${since(s)}; ${evidenceText(j)}`
  return spanCheck('max_error_rate', y.error_rate, limit, within, j, ctx, detail)
}

/** max_error_rate_over_x: y's lower bound minus x's upper bound, each at half the span's share, over the same time. */
function overXCheck(x: WindowFigures, y: WindowFigures, limit: number, ctx: Judging): GateCheck {
  const figure = y.error_rate - x.error_rate
  const within = figure <= limit
  const xSpans = spansOf(x)
  let best: { s: Span; xs: Span; bound: number } | null = null
  for (const s of ctx.ySpans) {
    const xs = xSpans.find((c) => c.start === s.start)
    if (xs === undefined || xs.requests === 0 || s.requests === 0) continue
    const a = ctx.share(s) / 2
    const bound = timeUniformLower(s.errors, s.requests, a) - timeUniformUpper(xs.errors, xs.requests, a)
    if (best === null || bound > best.bound) best = { s, xs, bound }
    if (bound > limit) break
  }
  const failed = best !== null && best.bound > limit
  const check: GateCheck = { gate: 'max_error_rate_over_x', figure, limit, verdict: 'none', detail: 'no x requests to compare with', bound: best?.bound ?? 0, evidence: 0, threshold: 0 }
  if (best === null || (x.requests === 0 && !failed)) return check
  const { s, xs, bound } = best
  const yr = rate(s.errors, s.requests)
  const xr = rate(xs.errors, xs.requests)
  check.verdict = verdictOf(ctx, failed, within)
  check.detail = failed
    ? `error_rate_over_x ${fmt(yr - xr)} > ${limit} (y ${fmt(yr)} over ${s.requests} requests, x ${fmt(xr)} over ${xs.requests}; ${ctx.label} ${fmt(bound)}) ${since(s)} (time-uniform)`
    : `error_rate_over_x ${fmt(figure)} ${relation(within, limit)} in the window (y ${fmt(y.error_rate)} over ${y.requests} requests, x ${fmt(x.error_rate)} over ${x.requests}); ${ctx.label} ${fmt(bound)} over the same time ${since(s)}`
  return check
}

/**
 * max_p99_ms: a p99 over the limit means more than 1% of answers slower than it, so the
 * same bound on that share. On fewer than 100 answers the window's p99 is its slowest
 * answer: passing then needs every answer within the limit.
 */
function p99Check(y: WindowFigures, limit: number, ctx: Judging): GateCheck {
  const j = judge(ctx, SLOW, P99_SHARE)
  const s = j.span
  const within = y.p99_ms <= limit
  const detail = j.failed
    ? `p99_ms ${Math.round(y.p99_ms)} > ${limit} over ${y.requests} requests; ${s.slow} of ${s.answered} answers slower than ${limit} ms (${ctx.label} ${fmtPercent(j.bound)} of answers, limit 1%) ${since(s)}; ${evidenceText(j)}`
    : `p99_ms ${Math.round(y.p99_ms)} ${relation(within, limit)} over ${y.requests} requests in the window; ${ctx.label} ${fmtPercent(j.bound)} of answers slower than ${limit} ms (limit 1%) over the ${s.answered} answers ${since(s)}; ${evidenceText(j)}`
  return spanCheck('max_p99_ms', y.p99_ms, limit, within, j, ctx, detail)
}

function relation(within: boolean, limit: number): string {
  return within ? `within ${limit}` : `> ${limit}, not yet with confidence,`
}

interface Judged {
  failed: boolean
  /** the span that failed, else the one closest to failing */
  span: Span
  bound: number
  evidence: number
  threshold: number
}

/** A rate a span's counts give: errors per request, slow answers per answer. */
interface SpanRate {
  events: (s: Span) => number
  trials: (s: Span) => number
}
const ERRORS: SpanRate = { events: (s) => s.errors, trials: (s) => s.requests }
const SLOW: SpanRate = { events: (s) => s.slow, trials: (s) => s.answered }

/** Whether any of y's spans has evidence that its rate is above limit reaching its threshold. */
function judge(ctx: Judging, { events, trials }: SpanRate, limit: number): Judged {
  const share = ctx.share
  let best: { s: Span; log: number; logThreshold: number } | null = null
  for (const s of ctx.ySpans) {
    const log = logEvidenceAbove(events(s), trials(s), limit)
    const logThreshold = Math.log(1 / share(s))
    if (best === null || log - logThreshold > best.log - best.logThreshold) best = { s, log, logThreshold }
  }
  const b = best!
  return {
    failed: b.log >= b.logThreshold,
    span: b.s,
    bound: timeUniformLower(events(b.s), trials(b.s), share(b.s)),
    evidence: Math.exp(b.log),
    threshold: Math.exp(b.logThreshold),
  }
}

/** The spans a verdict is built on; a caller that hands only window figures has its window taken for the whole history. */
function spansOf(f: WindowFigures): Span[] {
  if (f.spans !== undefined && f.spans.length > 0) return f.spans
  return [{ start: 0, ms: NaN, requests: f.requests, errors: f.errors, answered: f.answered ?? 0, slow: f.slow ?? 0 }]
}

function rate(k: number, n: number): number {
  return n > 0 ? k / n : 0
}

/** When the span began, in words: "since y took traffic 4m ago", "in the last 1m30s". */
function since(s: Span): string {
  if (!Number.isFinite(s.ms)) return 'in the window'
  const d = roughDuration(s.ms)
  return s.start === 0 ? `since y took traffic ${d} ago` : `in the last ${d}`
}

/** 45s, 12m, 1h05m: a span's age to the precision a reader needs. */
export function roughDuration(ms: number): string {
  const sec = Math.max(1, Math.round(ms / 1000))
  if (sec < 120) return `${sec}s`
  const min = Math.round(sec / 60)
  if (min < 120) return `${min}m`
  return `${Math.floor(min / 60)}h${String(min % 60).padStart(2, '0')}m`
}

function evidenceText(j: Judged): string {
  return `evidence ${fmtEvidence(j.evidence)} ${j.failed ? '>=' : 'of'} ${fmtEvidence(j.threshold)} needed (time-uniform)`
}

/** A likelihood ratio for people: 0.3, 12, 4100, "over a million". */
export function fmtEvidence(e: number): string {
  if (!(e < 1e6)) return 'over a million'
  if (e < 10) return fmt(e)
  return String(Math.round(e))
}

/** A share as a percentage for people: 95%, 99.5%, 0.2%. */
export function fmtPercent(p: number): string {
  return `${fmt(p * 100)}%`
}
