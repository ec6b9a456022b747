import t from 'tap'
import { percentile, Samples } from '../../bench/samples.mjs'

t.test('nearest-rank percentiles', async (t) => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
  t.equal(percentile(sorted, 50), 50)
  t.equal(percentile(sorted, 99), 99)
  t.equal(percentile(sorted, 100), 100)
  t.equal(percentile(sorted, 0), 1)
  t.ok(Number.isNaN(percentile(new Float64Array(0), 50)))
})

t.test('Samples grows past its first buffer and sorts numerically', async (t) => {
  const s = new Samples(4)
  for (const v of [10, 9, 100, 2, 1, 3, 50, 4, 5, 6]) s.record(v)
  t.same(s.percentiles(), { p50: 5, p99: 100 })
  s.reset()
  s.record(0.25)
  t.same(s.percentiles(), { p50: 0.25, p99: 0.25 })
})
