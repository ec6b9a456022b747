/**
 * One replica's own traffic in per-second buckets, as it publishes it to the fleet: per
 * pool, requests, errors and a latency histogram kept sparse (only the buckets used).
 * Counting is what the gatekeeper counts (an answer >= 500 or a failed attempt is an
 * error; answers carry a latency). The recorder is an outcome sink: O(1) per outcome.
 */

import type { Clock } from '../clock.js'
import { POOL_INDEX, type PoolName } from '../config/types.js'
import { bucketOf, HISTOGRAM_BUCKETS } from '../gates/latency-histogram.js'
import { type FailureKind, isFailedAnswer, type OutcomeSink } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'

export const BUCKET_MS = 1000

/** One pool's figures in one bucket; h is [histogram bucket, count] pairs. */
export interface PoolBucket {
  r: number
  e: number
  h: Array<[number, number]>
}

/** One second of one replica's traffic. t is the clock time divided by BUCKET_MS. */
export interface TrafficBucket {
  t: number
  x: PoolBucket
  y: PoolBucket
}

class LiveBucket {
  t = -1
  readonly requests = [0, 0]
  readonly errors = [0, 0]
  readonly hist = [new Map<number, number>(), new Map<number, number>()]

  reset(t: number): void {
    this.t = t
    this.requests[0] = this.requests[1] = 0
    this.errors[0] = this.errors[1] = 0
    this.hist[0].clear()
    this.hist[1].clear()
  }

  toJSON(): TrafficBucket {
    const pool = (i: number): PoolBucket => ({ r: this.requests[i], e: this.errors[i], h: [...this.hist[i].entries()] })
    return { t: this.t, x: pool(0), y: pool(1) }
  }
}

/** Records this replica's outcomes into a small ring of per-second buckets. */
export class TrafficRecorder implements OutcomeSink {
  readonly #clock: Clock
  readonly #ring: LiveBucket[]
  /** requests and errors per pool since the process started */
  readonly totals = { x: { requests: 0, errors: 0 }, y: { requests: 0, errors: 0 } }

  constructor(clock: Clock, keep = 4) {
    this.#clock = clock
    this.#ring = Array.from({ length: keep }, () => new LiveBucket())
  }

  attemptFailed(node: UpstreamNode, _kind: FailureKind): void {
    this.#record(node.pool, true, undefined)
  }

  answered(node: UpstreamNode, status: number, ms: number, grpcFailed?: boolean): void {
    this.#record(node.pool, isFailedAnswer(status, grpcFailed), ms)
  }

  /** Forget y's counts so far (y left, rejoined or was locked): the fleet's window starts y afresh. */
  resetY(): void {
    for (const b of this.#ring) {
      b.requests[1] = 0
      b.errors[1] = 0
      b.hist[1].clear()
    }
  }

  /** The buckets of the last `keep` seconds that saw traffic, the current (partial) one included. */
  recent(): TrafficBucket[] {
    const now = Math.floor(this.#clock.now() / BUCKET_MS)
    const out: TrafficBucket[] = []
    for (const b of this.#ring) if (b.t >= 0 && now - b.t < this.#ring.length) out.push(b.toJSON())
    return out.sort((a, b) => a.t - b.t)
  }

  #record(pool: PoolName, isError: boolean, ms: number | undefined): void {
    const t = Math.floor(this.#clock.now() / BUCKET_MS)
    const b = this.#ring[t % this.#ring.length]
    if (b.t !== t) b.reset(t)
    const i = POOL_INDEX[pool]
    b.requests[i]++
    this.totals[pool].requests++
    if (isError) {
      b.errors[i]++
      this.totals[pool].errors++
    }
    if (ms !== undefined) {
      const h = b.hist[i]
      const k = bucketOf(ms)
      h.set(k, (h.get(k) ?? 0) + 1)
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function parsePool(v: unknown, where: string): PoolBucket | string {
  if (typeof v !== 'object' || v === null) return `${where}: not an object`
  const p = v as Record<string, unknown>
  if (!isCount(p.r) || !isCount(p.e) || p.e > p.r) return `${where}: r and e must be counts with e <= r`
  if (!Array.isArray(p.h) || p.h.length > HISTOGRAM_BUCKETS) return `${where}.h: not a list of [bucket, count]`
  let sum = 0
  for (const pair of p.h) {
    if (!Array.isArray(pair) || pair.length !== 2 || !isCount(pair[0]) || pair[0] >= HISTOGRAM_BUCKETS || !isCount(pair[1])) return `${where}.h: not a list of [bucket, count]`
    sum += pair[1]
  }
  if (sum > p.r) return `${where}.h: more latencies than requests`
  return { r: p.r, e: p.e, h: p.h as Array<[number, number]> }
}

/** Validate a list of buckets read from the store: the buckets, or what is wrong. */
export function parseBuckets(v: unknown): TrafficBucket[] | string {
  if (!Array.isArray(v) || v.length > 64) return 'buckets: not a list of at most 64'
  const out: TrafficBucket[] = []
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as Record<string, unknown>
    if (typeof b !== 'object' || b === null || !isCount(b.t)) return `buckets[${i}].t: not a bucket time`
    const x = parsePool(b.x, `buckets[${i}].x`)
    if (typeof x === 'string') return x
    const y = parsePool(b.y, `buckets[${i}].y`)
    if (typeof y === 'string') return y
    out.push({ t: b.t, x, y })
  }
  return out
}
