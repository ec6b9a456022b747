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
  t.equal(
    a.counts.reduce((s, c) => s + c, 0),
    0,
  )
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

t.test('countAbove agrees with quantile: p99 above a limit exactly when more than 1% are above it', (t) => {
  const random = seededRandom(7)
  const h = new LatencyHistogram()
  for (let i = 0; i < 5000; i++) h.add(Math.exp(Math.log(200) + 0.6 * normal(random)))
  for (const limit of [50, 300, 700, 812.5, 1000, 1500, 5000]) {
    const above = h.countAbove(limit)
    t.equal(h.quantile(0.99) > limit, above > h.total - Math.ceil(0.99 * h.total), `limit ${limit}: ${above} above`)
  }
  t.equal(h.countAbove(0), h.total)
  t.equal(h.countAbove(1e9), 0)
  t.equal(new LatencyHistogram().countAbove(10), 0)
  const copy = new LatencyHistogram()
  copy.add(1)
  copy.copyFrom(h)
  t.equal(copy.total, h.total)
  t.equal(copy.countAbove(300), h.countAbove(300))
  t.end()
})
