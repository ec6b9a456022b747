/**
 * One pool's sliding window: a ring of time buckets (requests, errors, latency), with
 * running totals so reading the figures never walks the requests. Buckets turn over by
 * clock time and stale ones are cleared lazily, on the next record or read. The window
 * covers the current, partial bucket and the buckets-1 before it.
 *
 * Beside the window it keeps the counts a time-uniform bound needs (verdict.ts): since
 * the last reset (for y: since it took traffic) and since each of the last two window
 * boundaries after it, so a y that breaks late is judged on its recent traffic too.
 */

import type { Clock } from '../clock.js'
import { bucketOf, LatencyHistogram } from './latency-histogram.js'

/** Counts since some moment. */
export interface Tally {
  requests: number
  errors: number
  /** answers with a latency (failed attempts have none) */
  answered: number
  /** answers slower than the latency asked for in figures(); 0 when none was asked */
  slow: number
}

/** Counts since the reset (start 0) or since the start-th window boundary after it. */
export interface Span extends Tally {
  start: number
  /** how long the span has been counting, ms */
  ms: number
}

export interface WindowFigures {
  requests: number
  errors: number
  /** errors / requests; 0 without requests */
  error_rate: number
  /** p99 of the latencies recorded (failed attempts have none); 0 without any */
  p99_ms: number
  /** answers in the window, and how many were slower than the latency asked for */
  answered?: number
  slow?: number
  /** since the reset first, then since the last window boundaries; absent, a verdict takes the window for the whole history */
  spans?: Span[]
}

/** The counts at a window boundary, to subtract from the running ones. */
interface Mark {
  start: number
  atMs: number
  requests: number
  errors: number
  latency: LatencyHistogram
}

export class SlidingWindow {
  readonly windowMs: number
  readonly bucketMs: number
  readonly #clock: Clock
  readonly #requests: Uint32Array
  readonly #errors: Uint32Array
  readonly #latency: LatencyHistogram[]
  readonly #totalLatency = new LatencyHistogram()
  #totalRequests = 0
  #totalErrors = 0
  /** clock time divided by bucketMs of the bucket being filled */
  #epoch: number
  // since the reset: the epoch and time it happened, the counts, and the last two boundaries
  #startEpoch = 0
  #startMs = 0
  #sinceRequests = 0
  #sinceErrors = 0
  readonly #sinceLatency = new LatencyHistogram()
  readonly #marks: Mark[] = []

  constructor(windowMs: number, clock: Clock, buckets = 60) {
    if (!(windowMs > 0) || !(buckets >= 1)) throw new RangeError('window and buckets must be positive')
    this.windowMs = windowMs
    this.bucketMs = windowMs / buckets
    this.#clock = clock
    this.#requests = new Uint32Array(buckets)
    this.#errors = new Uint32Array(buckets)
    this.#latency = Array.from({ length: buckets }, () => new LatencyHistogram())
    this.#epoch = Math.floor(clock.now() / this.bucketMs)
    this.restart()
  }

  /** Requests in the window as of the last record or read. */
  get requests(): number {
    return this.#totalRequests
  }

  /** Errors in the window as of the last record or read. */
  get errors(): number {
    return this.#totalErrors
  }

  /** Errors in the bucket being filled. */
  get currentErrors(): number {
    return this.#errors[this.#epoch % this.#errors.length]
  }

  /** Count one request; ms undefined for an attempt that got no answer. O(1), no allocation. */
  record(isError: boolean, ms?: number): void {
    this.#advance(this.#clock.now())
    const slot = this.#epoch % this.#requests.length
    this.#requests[slot]++
    this.#totalRequests++
    this.#sinceRequests++
    if (isError) {
      this.#errors[slot]++
      this.#totalErrors++
      this.#sinceErrors++
    }
    if (ms !== undefined) {
      const bucket = bucketOf(ms)
      this.#latency[slot].addToBucket(bucket)
      this.#totalLatency.addToBucket(bucket)
      this.#sinceLatency.addToBucket(bucket)
    }
  }

  /** The window's figures now, with the spans; slowMs: count the answers slower than this. */
  figures(slowMs?: number): WindowFigures {
    const now = this.#clock.now()
    this.#advance(now)
    const requests = this.#totalRequests
    const p99 = this.#totalLatency.quantile(0.99)
    const slowIn = (h: LatencyHistogram): number => (slowMs === undefined ? 0 : h.countAbove(slowMs))
    const sinceSlow = slowIn(this.#sinceLatency)
    const spans: Span[] = [
      {
        start: 0,
        ms: Math.max(0, now - this.#startMs),
        requests: this.#sinceRequests,
        errors: this.#sinceErrors,
        answered: this.#sinceLatency.total,
        slow: sinceSlow,
      },
    ]
    for (const m of this.#marks) {
      spans.push({
        start: m.start,
        ms: Math.max(0, now - m.atMs),
        requests: this.#sinceRequests - m.requests,
        errors: this.#sinceErrors - m.errors,
        answered: this.#sinceLatency.total - m.latency.total,
        slow: sinceSlow - slowIn(m.latency),
      })
    }
    return {
      requests,
      errors: this.#totalErrors,
      error_rate: requests > 0 ? this.#totalErrors / requests : 0,
      p99_ms: Number.isNaN(p99) ? 0 : p99,
      answered: this.#totalLatency.total,
      slow: slowIn(this.#totalLatency),
      spans,
    }
  }

  /** Forget everything recorded so far, the spans too. */
  reset(): void {
    for (let i = 0; i < this.#requests.length; i++) this.#clear(i)
    this.#epoch = Math.floor(this.#clock.now() / this.bucketMs)
    this.restart()
  }

  /** Start the spans afresh from now; the window keeps its buckets. */
  restart(): void {
    const now = this.#clock.now()
    this.#startEpoch = Math.max(this.#epoch, Math.floor(now / this.bucketMs))
    this.#startMs = now
    this.#sinceRequests = 0
    this.#sinceErrors = 0
    this.#sinceLatency.clear()
    this.#marks.length = 0
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.bucketMs)
    // a clock that steps back keeps filling the current bucket
    if (epoch <= this.#epoch) return
    const n = this.#requests.length
    const steps = Math.min(epoch - this.#epoch, n)
    for (let k = 1; k <= steps; k++) this.#clear((this.#epoch + k) % n)
    this.#epoch = epoch
    // a window boundary since the reset was crossed: a span starts there (nothing was
    // recorded between the boundary and now, so the counts now are the counts then)
    const start = Math.floor((epoch - this.#startEpoch) / n)
    const last = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1].start : 0
    if (start > last) this.#mark(start)
  }

  #mark(start: number): void {
    // keep the last two; the older one's histogram is reused
    const reused = this.#marks.length >= 2 ? this.#marks.shift()!.latency : new LatencyHistogram()
    reused.copyFrom(this.#sinceLatency)
    const atMs = (this.#startEpoch + start * this.#requests.length) * this.bucketMs
    this.#marks.push({ start, atMs, requests: this.#sinceRequests, errors: this.#sinceErrors, latency: reused })
  }

  #clear(slot: number): void {
    this.#totalRequests -= this.#requests[slot]
    this.#totalErrors -= this.#errors[slot]
    this.#requests[slot] = 0
    this.#errors[slot] = 0
    const h = this.#latency[slot]
    if (h.total > 0) {
      this.#totalLatency.subtract(h)
      h.clear()
    }
  }
}
