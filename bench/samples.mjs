// Response times of one load run, kept whole (a growable Float64Array of milliseconds)
// so percentiles are exact and microsecond-precise.

/** The p-th percentile (0..100) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

/** A reusable recorder of latencies in ms. */
export class Samples {
  constructor(initial = 1 << 16) {
    this.values = new Float64Array(initial)
    this.count = 0
  }

  /** Forget what was recorded (the buffer is kept). */
  reset() {
    this.count = 0
  }

  /** Add one latency in ms. */
  record(ms) {
    if (this.count === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2)
      bigger.set(this.values)
      this.values = bigger
    }
    this.values[this.count++] = ms
  }

  /** { p50, p99 } in ms of what was recorded. */
  percentiles() {
    const sorted = this.values.slice(0, this.count).sort()
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
  }
}
