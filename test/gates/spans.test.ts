import t from 'tap'
import { bucketOf, LatencyHistogram } from '../../src/gates/latency-histogram.js'
import { SpanCounts } from '../../src/gates/spans.js'

t.test('summed counts (a window over replicas) make the same spans as single requests', (t) => {
  // windows of 10 one-second buckets, started at 0
  const one = new SpanCounts(10, 1000, 0)
  const summed = new SpanCounts(10, 1000, 0)
  for (let second = 0; second < 25; second++) {
    one.advance(second)
    summed.advance(second)
    const ms = 100 * (second + 1) // slower each second: above 1000 ms from the 10th
    const h = new LatencyHistogram()
    for (let i = 0; i < 4; i++) {
      h.add(ms)
      one.add(i === 0 && second % 5 === 0, bucketOf(ms))
    }
    one.add(true, -1) // an attempt with no answer
    summed.addAll(5, second % 5 === 0 ? 2 : 1, h)
  }
  t.same(summed.spans(25_000, 1050), one.spans(25_000, 1050))
  t.same(
    one.spans(25_000, 1050).map((s) => [s.start, s.ms, s.requests, s.errors, s.answered, s.slow]),
    [
      [0, 25_000, 125, 30, 100, 60],
      [1, 15_000, 75, 18, 60, 60],
      [2, 5_000, 25, 6, 20, 20],
    ],
  )
  t.equal(one.spans(25_000)[0].slow, 0, 'no latency asked: none slow')
  summed.restart(30_000)
  t.same(summed.spans(31_000), [{ start: 0, ms: 1000, requests: 0, errors: 0, answered: 0, slow: 0 }])
  t.end()
})
