/**
 * One pool's sliding window: a ring of time buckets (requests, errors, latency), with
 * running totals so reading the figures never walks the requests. Buckets turn over by
 * clock time and stale ones are cleared lazily, on the next record or read. The window
 * covers the current, partial bucket and the buckets-1 before it.
 *
 * Beside the window it keeps the counts a time-uniform bound needs (spans.ts): since the
 * last reset (for y: since it took traffic) and since the last two window boundaries.
 */

import type { Clock } from '../clock.js'
import { bucketOf, LatencyHistogram } from './latency-histogram.js'
import { type Span, SpanCounts } from './spans.js'

export type { Span, Tally } from './spans.js'

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
  readonly #spans: SpanCounts

  constructor(windowMs: number, clock: Clock, buckets = 60) {
    if (!(windowMs > 0) || !(buckets >= 1)) throw new RangeError('window and buckets must be positive')
    this.windowMs = windowMs
    this.bucketMs = windowMs / buckets
    this.#clock = clock
    this.#requests = new Uint32Array(buckets)
    this.#errors = new Uint32Array(buckets)
    this.#latency = Array.from({ length: buckets }, () => new LatencyHistogram())
    this.#epoch = Math.floor(clock.now() / this.bucketMs)
    this.#spans = new SpanCounts(buckets, this.bucketMs, clock.now())
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
    if (isError) {
      this.#errors[slot]++
      this.#totalErrors++
    }
    const bucket = ms === undefined ? -1 : bucketOf(ms)
    if (bucket >= 0) {
      this.#latency[slot].addToBucket(bucket)
      this.#totalLatency.addToBucket(bucket)
    }
    this.#spans.add(isError, bucket)
  }

  /** The window's figures now, with the spans; slowMs: count the answers slower than this. */
  figures(slowMs?: number): WindowFigures {
    const now = this.#clock.now()
    this.#advance(now)
    const requests = this.#totalRequests
    const p99 = this.#totalLatency.quantile(0.99)
    return {
      requests,
      errors: this.#totalErrors,
      error_rate: requests > 0 ? this.#totalErrors / requests : 0,
      p99_ms: Number.isNaN(p99) ? 0 : p99,
      answered: this.#totalLatency.total,
      slow: slowMs === undefined ? 0 : this.#totalLatency.countAbove(slowMs),
      spans: this.#spans.spans(now, slowMs),
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
    this.#spans.restart(now, Math.max(this.#epoch, Math.floor(now / this.bucketMs)))
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.bucketMs)
    // a clock that steps back keeps filling the current bucket
    if (epoch <= this.#epoch) return
    const n = this.#requests.length
    const steps = Math.min(epoch - this.#epoch, n)
    for (let k = 1; k <= steps; k++) this.#clear((this.#epoch + k) % n)
    this.#epoch = epoch
    // nothing was recorded since the old epoch, so a boundary crossed meanwhile is marked with the counts now
    this.#spans.advance(epoch)
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
