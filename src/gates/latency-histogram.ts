/**
 * Latency counts in log-spaced buckets (2% wide, 0.1 ms to 5 min): a p99 within about 1%
 * of the true value from a fixed 3 KB array, whatever the traffic. Values above the top
 * land in the last bucket.
 */

const MIN_MS = 0.1
const MAX_MS = 300_000
const RATIO = 1.02
const LN_RATIO = Math.log(RATIO)
/** bucket 0 holds [0, MIN_MS]; bucket i holds (MIN_MS * RATIO^(i-1), MIN_MS * RATIO^i] */
export const HISTOGRAM_BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LN_RATIO) + 1

/** The bucket index of a latency in ms. */
export function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0
  const i = Math.ceil(Math.log(ms / MIN_MS) / LN_RATIO)
  return i < HISTOGRAM_BUCKETS ? i : HISTOGRAM_BUCKETS - 1
}

/** The value a bucket stands for: its geometric middle, so the error is at most ~1%. */
export function bucketValue(bucket: number): number {
  return MIN_MS * RATIO ** (bucket - 0.5)
}

export class LatencyHistogram {
  readonly counts = new Uint32Array(HISTOGRAM_BUCKETS)
  #total = 0
  // lowest and highest bucket touched, so clearing and merging skip the empty tails
  #lo = HISTOGRAM_BUCKETS
  #hi = -1

  get total(): number {
    return this.#total
  }

  /** Count one latency. O(1). */
  add(ms: number): void {
    this.addToBucket(bucketOf(ms))
  }

  /** Count one latency already placed by bucketOf (one logarithm for several histograms). */
  addToBucket(i: number): void {
    this.counts[i]++
    this.#total++
    if (i < this.#lo) this.#lo = i
    if (i > this.#hi) this.#hi = i
  }

  /** Count n latencies in bucket i (counts summed elsewhere, e.g. another replica's). */
  addCountTo(i: number, n: number): void {
    if (n <= 0) return
    this.counts[i] += n
    this.#total += n
    if (i < this.#lo) this.#lo = i
    if (i > this.#hi) this.#hi = i
  }

  /** Add every count of other into this one. */
  addAll(other: LatencyHistogram): void {
    for (let i = other.#lo; i <= other.#hi; i++) {
      const c = other.counts[i]
      if (c !== 0) this.counts[i] += c
    }
    if (other.#total === 0) return
    this.#total += other.#total
    if (other.#lo < this.#lo) this.#lo = other.#lo
    if (other.#hi > this.#hi) this.#hi = other.#hi
  }

  /** Remove the counts of other, which must have been added to this one before. */
  subtract(other: LatencyHistogram): void {
    for (let i = other.#lo; i <= other.#hi; i++) {
      const c = other.counts[i]
      if (c !== 0) this.counts[i] -= c
    }
    this.#total -= other.#total
    if (this.#total === 0) this.clear()
  }

  /** Make this a copy of other. */
  copyFrom(other: LatencyHistogram): void {
    this.clear()
    this.addAll(other)
  }

  /**
   * How many latencies read as above ms: those whose bucket stands for a value above it,
   * so that quantile(q) > ms exactly when more than (1 - q) of the latencies are.
   */
  countAbove(ms: number): number {
    let first = ms > MIN_MS ? Math.floor(Math.log(ms / MIN_MS) / LN_RATIO + 0.5) + 1 : 0
    // the logarithm may land a hair either side of a bucket edge
    while (first > 0 && bucketValue(first - 1) > ms) first--
    while (first < HISTOGRAM_BUCKETS && bucketValue(first) <= ms) first++
    let n = 0
    for (let i = Math.max(first, this.#lo); i <= this.#hi; i++) n += this.counts[i]
    return n
  }

  /** Forget everything. */
  clear(): void {
    if (this.#hi >= this.#lo) this.counts.fill(0, this.#lo, this.#hi + 1)
    this.#total = 0
    this.#lo = HISTOGRAM_BUCKETS
    this.#hi = -1
  }

  /** The q-quantile (0 < q <= 1) in ms; NaN when empty. */
  quantile(q: number): number {
    if (this.#total === 0) return NaN
    const rank = Math.max(1, Math.ceil(q * this.#total))
    let seen = 0
    for (let i = this.#lo; i <= this.#hi; i++) {
      seen += this.counts[i]
      if (seen >= rank) return bucketValue(i)
    }
    return bucketValue(this.#hi)
  }
}
