/**
 * The counts a time-uniform bound needs (verdict.ts): since a start — for y, since it
 * took traffic — and since each of the last two window boundaries after it, so a y that
 * breaks late is judged on its recent traffic too. Time is counted in the window's
 * buckets ("epochs"); a boundary falls every windowBuckets epochs after the start. Kept
 * apart from the window so that a window summed over replicas can count spans too.
 */

import { LatencyHistogram } from './latency-histogram.js'

/** Counts since some moment. */
export interface Tally {
  requests: number
  errors: number
  /** answers with a latency (failed attempts have none) */
  answered: number
  /** answers slower than the latency asked for; 0 when none was asked */
  slow: number
}

/** Counts since the start (start 0) or since the start-th window boundary after it. */
export interface Span extends Tally {
  start: number
  /** how long the span has been counting, ms */
  ms: number
}

/** The running counts at a window boundary, to subtract from the running ones. */
interface Mark {
  start: number
  atMs: number
  requests: number
  errors: number
  latency: LatencyHistogram
}

export class SpanCounts {
  readonly #windowBuckets: number
  readonly #bucketMs: number
  #startEpoch = 0
  #startMs = 0
  #requests = 0
  #errors = 0
  readonly #latency = new LatencyHistogram()
  readonly #marks: Mark[] = []

  constructor(windowBuckets: number, bucketMs: number, nowMs: number) {
    this.#windowBuckets = windowBuckets
    this.#bucketMs = bucketMs
    this.restart(nowMs)
  }

  /** Start afresh at nowMs (in the epoch given, if the caller's clock stepped back). */
  restart(nowMs: number, epoch = Math.floor(nowMs / this.#bucketMs)): void {
    this.#startEpoch = epoch
    this.#startMs = nowMs
    this.#requests = 0
    this.#errors = 0
    this.#latency.clear()
    this.#marks.length = 0
  }

  /** The caller moved on to this epoch: a boundary crossed since starts a span there. Call before counting in it. */
  advance(epoch: number): void {
    const start = Math.floor((epoch - this.#startEpoch) / this.#windowBuckets)
    const last = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1].start : 0
    // several boundaries crossed at once had nothing counted between them: the last will do
    if (start > last) this.#mark(start)
  }

  /** Count one request; bucket is its latency's bucketOf, or -1 for an attempt that got no answer. O(1). */
  add(isError: boolean, bucket: number): void {
    this.#requests++
    if (isError) this.#errors++
    if (bucket >= 0) this.#latency.addToBucket(bucket)
  }

  /** Count many at once (e.g. a second of traffic summed over replicas). */
  addAll(requests: number, errors: number, latency: LatencyHistogram): void {
    this.#requests += requests
    this.#errors += errors
    this.#latency.addAll(latency)
  }

  /** Since the start, then since the last two boundaries; slowMs: count the answers slower than this. */
  spans(nowMs: number, slowMs?: number): Span[] {
    const slowIn = (h: LatencyHistogram): number => (slowMs === undefined ? 0 : h.countAbove(slowMs))
    const slow = slowIn(this.#latency)
    const spans: Span[] = [{ start: 0, ms: Math.max(0, nowMs - this.#startMs), requests: this.#requests, errors: this.#errors, answered: this.#latency.total, slow }]
    for (const m of this.#marks) {
      spans.push({
        start: m.start,
        ms: Math.max(0, nowMs - m.atMs),
        requests: this.#requests - m.requests,
        errors: this.#errors - m.errors,
        answered: this.#latency.total - m.latency.total,
        slow: slow - slowIn(m.latency),
      })
    }
    return spans
  }

  #mark(start: number): void {
    // keep the last two; the older one's histogram is reused
    const latency = this.#marks.length >= 2 ? this.#marks.shift()!.latency : new LatencyHistogram()
    latency.copyFrom(this.#latency)
    const atMs = (this.#startEpoch + start * this.#windowBuckets) * this.#bucketMs
    this.#marks.push({ start, atMs, requests: this.#requests, errors: this.#errors, latency })
  }
}
