import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { HISTOGRAM_BUCKETS, LatencyHistogram, bucketOf } from '../../src/gates/latency-histogram.js'

/** A standard normal from two uniforms (Box-Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

t.test('p99 of 100k log-normal samples is within 3% of the exact one', (t) => {
  const random = seededRandom(42)
  const h = new LatencyHistogram()
  const samples = new Float64Array(100_000)
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.exp(Math.log(40) + 0.8 * normal(random)) // median 40 ms, long tail
    h.add(samples[i])
  }
  samples.sort()
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = samples[Math.ceil(q * samples.length) - 1]
    const got = h.quantile(q)
    t.ok(Math.abs(got - exact) / exact < 0.03, `q${q}: ${got} vs exact ${exact}`)
  }
  t.equal(h.total, 100_000)
  t.end()
})

t.test('subtract undoes add; empty has no quantile', (t) => {
  const a = new LatencyHistogram()
  const b = new LatencyHistogram()
  t.ok(Number.isNaN(a.quantile(0.99)))
  for (let i = 1; i <= 100; i++) b.add(i)
  a.add(5000)
  a.addAll(b)
  t.equal(a.total, 101)
  t.ok(Math.abs(a.quantile(1) - 5000) / 5000 < 0.011, 'max is the outlier, within 1.1%')
  a.subtract(b)
  t.equal(a.total, 1)
  t.ok(Math.abs(a.quantile(0.5) - 5000) / 5000 < 0.011)
  a.clear()
  t.equal(a.total, 0)
  t.equal(a.counts.reduce((s, c) => s + c, 0), 0)
  t.end()
})

t.test('bucket edges: zero, tiny, and beyond the top clamp', (t) => {
  t.equal(bucketOf(0), 0)
  t.equal(bucketOf(0.05), 0)
  t.equal(bucketOf(-1), 0)
  t.equal(bucketOf(1e9), HISTOGRAM_BUCKETS - 1)
  t.ok(bucketOf(100) < bucketOf(103), '3% apart lands in different buckets')
  t.ok(HISTOGRAM_BUCKETS < 1000, 'a small fixed array')
  t.end()
})
