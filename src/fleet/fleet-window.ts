/**
 * The fleet's gate window: every replica's published per-second buckets, kept per
 * replica and per second (a bucket published again replaces the earlier copy), summed
 * over the window into the figures the gates judge. Beside the window, the spans a
 * time-uniform verdict needs (gates/spans.ts), as a single cutover's window keeps them:
 * what each bucket adds since its last copy is counted once, as it arrives. Pure data and
 * arithmetic, no I/O; the time is passed in.
 */

import { bucketOf, bucketValue, HISTOGRAM_BUCKETS, LatencyHistogram } from '../gates/latency-histogram.js'
import { SpanCounts } from '../gates/spans.js'
import type { WindowFigures } from '../gates/window.js'
import { BUCKET_MS, type PoolBucket, type TrafficBucket } from './traffic-buckets.js'

/** Buckets are kept at least this long (s) after they leave the window, so one published again is not counted twice in the spans. */
const KEEP_SECONDS = 64
const EMPTY: PoolBucket = { r: 0, e: 0, h: [] }

export interface FleetFigures {
  x: WindowFigures
  y: WindowFigures
  /** replicas that contributed a bucket inside the window */
  replicas: number
}

function figures(requests: number, errors: number, hist: Latencies, slowMs: number | undefined, spans: SpanCounts, now: number): WindowFigures {
  const p99 = hist.quantile(0.99)
  // answered and slow feed the latency gate's bound (gates/window.ts, issue 18)
  const out = {
    requests,
    errors,
    error_rate: requests > 0 ? errors / requests : 0,
    p99_ms: Number.isNaN(p99) ? 0 : p99,
    answered: hist.total,
    slow: slowMs === undefined ? 0 : hist.above(slowMs),
    spans: spans.spans(now, slowMs),
  }
  return out
}

export class FleetWindow {
  #windowMs: number
  readonly #byReplica = new Map<string, Map<number, TrafficBucket>>()
  /** y buckets at or before this bucket time are forgotten (y left, rejoined or was locked) */
  #yFrom = -Infinity
  #xSpans: SpanCounts
  #ySpans: SpanCounts
  /** what a put adds, reused */
  readonly #added = new LatencyHistogram()

  constructor(windowMs: number, now = 0) {
    this.#windowMs = windowMs
    this.#xSpans = this.#newSpans(now)
    this.#ySpans = this.#newSpans(now)
  }

  get windowMs(): number {
    return this.#windowMs
  }

  /** A new window length; the spans start afresh, as a single cutover's windows do. */
  setWindow(ms: number, now: number): void {
    if (ms === this.#windowMs) return
    this.#windowMs = ms
    this.#xSpans = this.#newSpans(now)
    this.#ySpans = this.#newSpans(now)
  }

  /** Take a replica's latest buckets; drops what has left the window as of now. */
  put(replica: string, buckets: readonly TrafficBucket[], now: number): void {
    let mine = this.#byReplica.get(replica)
    if (mine === undefined) this.#byReplica.set(replica, (mine = new Map()))
    const epoch = Math.floor(now / BUCKET_MS)
    this.#xSpans.advance(epoch)
    this.#ySpans.advance(epoch)
    for (const b of buckets) {
      const before = mine.get(b.t)
      this.#count(this.#xSpans, b.x, before?.x ?? EMPTY)
      if (b.t > this.#yFrom) this.#count(this.#ySpans, b.y, before?.y ?? EMPTY)
      mine.set(b.t, b)
    }
    this.#prune(now)
  }

  /**
   * Forget y's figures so far (the gatekeeper does the same on its own window): every
   * earlier second at once; the current one as each replica republishes it, reset too.
   * y's spans start afresh, and x's beside them, so y is compared with x over the same time.
   */
  resetY(now: number): void {
    this.#yFrom = Math.floor(now / BUCKET_MS) - 1
    for (const buckets of this.#byReplica.values()) {
      for (const [t, b] of buckets) if (t > this.#yFrom) buckets.set(t, { ...b, y: EMPTY })
    }
    this.#ySpans.restart(now)
    this.#xSpans.restart(now)
  }

  /** The summed figures of every replica over the window ending now; `slowMs` counts answers slower than it. */
  figures(now: number, slowMs?: number): FleetFigures {
    this.#prune(now)
    const from = this.#oldest(now)
    const hx = new Latencies()
    const hy = new Latencies()
    const sums = { xr: 0, xe: 0, yr: 0, ye: 0 }
    let replicas = 0
    for (const buckets of this.#byReplica.values()) {
      let counted = false
      for (const b of buckets.values()) {
        if (b.t < from) continue
        counted = true
        add(b.x, hx, sums, 'x')
        if (b.t > this.#yFrom) add(b.y, hy, sums, 'y')
      }
      if (counted) replicas++
    }
    const epoch = Math.floor(now / BUCKET_MS)
    this.#xSpans.advance(epoch)
    this.#ySpans.advance(epoch)
    return { x: figures(sums.xr, sums.xe, hx, slowMs, this.#xSpans, now), y: figures(sums.yr, sums.ye, hy, slowMs, this.#ySpans, now), replicas }
  }

  #newSpans(now: number): SpanCounts {
    return new SpanCounts(Math.max(1, Math.ceil(this.#windowMs / BUCKET_MS)), BUCKET_MS, now)
  }

  /**
   * Count in the spans what a bucket adds to its earlier copy. A copy with fewer requests
   * than the earlier one is the bucket started again (its replica restarted, or reset y):
   * all of it is new.
   */
  #count(spans: SpanCounts, next: PoolBucket, before: PoolBucket): void {
    const base = next.r >= before.r ? before : EMPTY
    const added = this.#added
    added.clear()
    for (const [k, c] of next.h) {
      added.addCountTo(k, c - (base.h.find(([j]) => j === k)?.[1] ?? 0))
    }
    const requests = next.r - base.r
    spans.addAll(requests, Math.min(requests, Math.max(0, next.e - base.e)), added)
  }

  #oldest(now: number): number {
    return Math.floor(now / BUCKET_MS) - Math.ceil(this.#windowMs / BUCKET_MS) + 1
  }

  #prune(now: number): void {
    const from = Math.min(this.#oldest(now), Math.floor(now / BUCKET_MS) - KEEP_SECONDS)
    for (const [replica, buckets] of this.#byReplica) {
      for (const t of buckets.keys()) if (t < from) buckets.delete(t)
      if (buckets.size === 0) this.#byReplica.delete(replica)
    }
  }
}

/** Counts of latency buckets summed across replicas, with the gatekeeper's quantile rule. */
class Latencies {
  readonly counts = new Float64Array(HISTOGRAM_BUCKETS)
  total = 0

  add(pairs: ReadonlyArray<readonly [number, number]>): void {
    for (const [k, c] of pairs) {
      this.counts[k] += c
      this.total += c
    }
  }

  /** Answers in buckets above the one holding ms (to the histogram's 2% resolution). */
  above(ms: number): number {
    let n = 0
    for (let i = bucketOf(ms) + 1; i < this.counts.length; i++) n += this.counts[i]
    return n
  }

  /** As LatencyHistogram.quantile: the bucket holding the rank, by its middle value; NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN
    const rank = Math.max(1, Math.ceil(q * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]
      if (seen >= rank) return bucketValue(i)
    }
    return bucketValue(this.counts.length - 1)
  }
}

function add(p: PoolBucket, hist: Latencies, sums: { xr: number; xe: number; yr: number; ye: number }, pool: 'x' | 'y'): void {
  if (pool === 'x') {
    sums.xr += p.r
    sums.xe += p.e
  } else {
    sums.yr += p.r
    sums.ye += p.e
  }
  hist.add(p.h)
}
