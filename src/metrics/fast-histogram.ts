/**
 * A Prometheus histogram for the hot path: one label (the pool) with a fixed set of
 * values, counts in typed arrays, no label hashing per observation. prom-client hashes the
 * label set on every observe(), even on a bound child; this one does an array increment.
 * It registers into a prom-client Registry as a metric object (name, help, type,
 * aggregator, get()), so exposition and cluster aggregation work as for prom-client's own.
 */

import type { Registry } from 'prom-client'

export interface FastHistogramOptions {
  name: string
  help: string
  labelName: string
  labelValues: readonly string[]
  /** upper bounds in ascending order; +Inf is added */
  buckets: readonly number[]
  registers: Registry[]
}

interface Value {
  labels: Record<string, string | number>
  value: number
  metricName: string
}

export class FastHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #labelName: string
  readonly #labelValues: readonly string[]
  readonly #bounds: Float64Array
  /** per label value: a count per bucket (the last is +Inf), not cumulative */
  readonly #counts: Float64Array[]
  readonly #sums: Float64Array
  readonly #totals: Float64Array

  constructor(options: FastHistogramOptions) {
    this.name = options.name
    this.help = options.help
    this.#labelName = options.labelName
    this.#labelValues = options.labelValues
    this.#bounds = Float64Array.from(options.buckets)
    this.#counts = options.labelValues.map(() => new Float64Array(options.buckets.length + 1))
    this.#sums = new Float64Array(options.labelValues.length)
    this.#totals = new Float64Array(options.labelValues.length)
    for (const registry of options.registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0])
  }

  /** Record one value for the label value at index `label` (its place in labelValues). */
  observe(label: number, value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.#counts[label][i]++
    this.#sums[label] += value
    this.#totals[label]++
  }

  /** prom-client's metric interface: the values with cumulative buckets, _sum and _count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = []
    for (let l = 0; l < this.#labelValues.length; l++) {
      const labelValue = this.#labelValues[l]
      const counts = this.#counts[l]
      let cumulative = 0
      for (let b = 0; b < counts.length; b++) {
        cumulative += counts[b]
        const le = b < this.#bounds.length ? this.#bounds[b] : '+Inf'
        values.push({ labels: { le, [this.#labelName]: labelValue }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { [this.#labelName]: labelValue }, value: this.#sums[l], metricName: `${this.name}_sum` })
      values.push({ labels: { [this.#labelName]: labelValue }, value: this.#totals[l], metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    for (const c of this.#counts) c.fill(0)
    this.#sums.fill(0)
    this.#totals.fill(0)
  }
}
