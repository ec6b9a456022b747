/**
 * A Prometheus HTTP API answer (`GET /api/v1/query`) read and judged: its success, error
 * and empty-result shapes checked field by field, the value a threshold is held to, and
 * the verdict. No data (an empty vector, NaN, an error, an answer of another shape) is no
 * verdict, never a pass. Pure.
 */

import type { PromGateConfig } from '../config/analysis.js'

export type PromReading = { kind: 'value'; value: number; series: number } | { kind: 'none'; why: string }

export interface PromVerdict {
  gate: string
  verdict: 'pass' | 'fail' | 'none'
  /** the value judged; null without data */
  value: number | null
  /** the threshold in words: `max 0.01`, `min 100` */
  threshold: string
  /** a sentence: `kong_errors = 0.042 > max 0.01`, or why there is no verdict */
  detail: string
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A sample `[ <unix seconds>, "<value>" ]`; its value, or a reason it is not one. */
function sampleValue(sample: unknown): number | string {
  if (!Array.isArray(sample) || sample.length !== 2 || typeof sample[0] !== 'number' || typeof sample[1] !== 'string') return 'a sample is not [time, "value"]'
  // Go's float text: +Inf and -Inf, which Number() does not read
  const text = sample[1]
  const v = text === '+Inf' || text === 'Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text)
  if (text.trim() === '' || Number.isNaN(v)) return `the value is ${JSON.stringify(text)}`
  return v
}

/**
 * The value of an answer, for a gate judged with `max` (the largest series) or `min` (the
 * smallest); `httpStatus` is the status Prometheus answered with.
 */
export function readPromAnswer(httpStatus: number, body: unknown, pick: 'max' | 'min'): PromReading {
  if (!isObject(body)) return { kind: 'none', why: `Prometheus answered ${httpStatus} with no JSON object` }
  if (body.status === 'error') {
    const type = typeof body.errorType === 'string' ? body.errorType : 'error'
    const msg = typeof body.error === 'string' ? body.error.slice(0, 300) : 'no message'
    return { kind: 'none', why: `Prometheus answered ${httpStatus} ${type}: ${msg}` }
  }
  if (body.status !== 'success' || httpStatus < 200 || httpStatus > 299) return { kind: 'none', why: `Prometheus answered ${httpStatus} with status ${JSON.stringify(body.status)}` }
  const data = body.data
  if (!isObject(data) || typeof data.resultType !== 'string') return { kind: 'none', why: 'the answer has no data.resultType' }
  const result = data.result
  switch (data.resultType) {
    case 'scalar': {
      const v = sampleValue(result)
      return typeof v === 'number' ? { kind: 'value', value: v, series: 1 } : { kind: 'none', why: `scalar: ${v}` }
    }
    case 'vector': {
      if (!Array.isArray(result)) return { kind: 'none', why: 'vector: data.result is not a list' }
      if (result.length === 0) return { kind: 'none', why: 'no data: the query matched no series' }
      let best: number | undefined
      for (const s of result) {
        if (!isObject(s) || !isObject(s.metric)) return { kind: 'none', why: 'vector: a series has no metric labels' }
        const v = sampleValue(s.value)
        if (typeof v !== 'number') return { kind: 'none', why: `vector: ${v}` }
        if (best === undefined || (pick === 'max' ? v > best : v < best)) best = v
      }
      return { kind: 'value', value: best as number, series: result.length }
    }
    default:
      return { kind: 'none', why: `resultType ${data.resultType}: the query must give an instant vector or a scalar` }
  }
}

/**
 * The verdict of a gate: fail above max (the largest series, `high`) or below min (the
 * smallest, `low`), pass within, none without data.
 */
export function judgeProm(gate: PromGateConfig, high: PromReading, low: PromReading = high): PromVerdict {
  const threshold = [gate.max !== undefined ? `max ${gate.max}` : '', gate.min !== undefined ? `min ${gate.min}` : ''].filter(Boolean).join(', ')
  if (high.kind === 'none') return { gate: gate.name, verdict: 'none', value: null, threshold, detail: `${gate.name}: no verdict (${high.why})` }
  if (low.kind === 'none') return { gate: gate.name, verdict: 'none', value: null, threshold, detail: `${gate.name}: no verdict (${low.why})` }
  if (gate.max !== undefined && high.value > gate.max) return { gate: gate.name, verdict: 'fail', value: high.value, threshold, detail: `${gate.name} = ${high.value} > max ${gate.max}` }
  if (gate.min !== undefined && low.value < gate.min) return { gate: gate.name, verdict: 'fail', value: low.value, threshold, detail: `${gate.name} = ${low.value} < min ${gate.min}` }
  const value = gate.max !== undefined ? high.value : low.value
  return { gate: gate.name, verdict: 'pass', value, threshold, detail: `${gate.name} = ${value} within ${threshold}` }
}
