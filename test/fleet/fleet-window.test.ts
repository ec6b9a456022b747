import t from 'tap'
import { bucketOf } from '../../src/gates/latency-histogram.js'
import { FleetWindow } from '../../src/fleet/fleet-window.js'
import { parseBuckets, TrafficRecorder, type TrafficBucket } from '../../src/fleet/traffic-buckets.js'
import { FakeClock } from '../../src/clock.js'
import type { UpstreamNode } from '../../src/upstream/node.js'

const T0 = Date.UTC(2026, 0, 1)
const sec = (s: number) => Math.floor(T0 / 1000) + s

function bucket(s: number, y: { r: number; e: number; ms?: number }, x = { r: 0, e: 0 }): TrafficBucket {
  return { t: sec(s), x: { ...x, h: [] }, y: { r: y.r, e: y.e, h: y.ms === undefined ? [] : [[bucketOf(y.ms), y.r - y.e]] } }
}

t.test('sums every replica over the window; a bucket published again replaces the earlier copy', async (t) => {
  const w = new FleetWindow(10_000)
  w.put('a', [bucket(0, { r: 10, e: 1, ms: 5 })], T0)
  w.put('b', [bucket(0, { r: 30, e: 3, ms: 50 })], T0)
  w.put('a', [bucket(0, { r: 20, e: 2, ms: 5 })], T0) // the partial bucket, later
  const f = w.figures(T0 + 500, 20)
  t.equal(f.y.requests, 50)
  t.equal(f.y.errors, 5)
  t.equal(f.y.error_rate, 0.1)
  t.equal(f.replicas, 2)
  t.ok(Math.abs(f.y.p99_ms - 50) / 50 < 0.02, `p99 from the summed histogram: ${f.y.p99_ms}`)
  t.equal(f.y.answered, 45)
  t.equal(f.y.slow, 27, "answers slower than 20 ms: b's")
})

t.test('buckets leave the window as time passes; resetY forgets y but not x', async (t) => {
  const w = new FleetWindow(3_000)
  w.put('a', [bucket(0, { r: 10, e: 5 }, { r: 7, e: 0 })], T0)
  t.equal(w.figures(T0 + 2_500).y.requests, 10)
  t.equal(w.figures(T0 + 3_000).y.requests, 0, 'out of a 3 s window')
  w.put('a', [bucket(5, { r: 10, e: 5 }, { r: 7, e: 0 })], T0 + 5_000)
  w.resetY(T0 + 6_100)
  const f = w.figures(T0 + 6_200)
  t.equal(f.y.requests, 0, 'earlier seconds forgotten for y')
  t.equal(f.x.requests, 7, 'not for x')
  w.put('a', [bucket(6, { r: 4, e: 0 })], T0 + 6_300) // the current second, republished after the reset
  t.equal(w.figures(T0 + 6_400).y.requests, 4, 'the current second counts as republished')
})

t.test('the recorder keeps per-second buckets the way the gatekeeper counts', async (t) => {
  const clock = new FakeClock(T0)
  const r = new TrafficRecorder(clock)
  const y = { pool: 'y' } as UpstreamNode
  const x = { pool: 'x' } as UpstreamNode
  r.answered(y, 200, 10)
  r.answered(y, 503, 10)
  r.attemptFailed(y, 'connect')
  r.answered(x, 200, 3)
  clock.advance(1000)
  r.answered(y, 200, 10)
  const recent = r.recent()
  t.equal(recent.length, 2)
  t.match(recent[0], { t: sec(0), y: { r: 3, e: 2 }, x: { r: 1, e: 0 } })
  t.same(recent[0].y.h, [[bucketOf(10), 2]], 'failed attempts have no latency')
  t.same(r.totals, { x: { requests: 1, errors: 0 }, y: { requests: 4, errors: 2 } })
  r.resetY()
  t.match(r.recent()[1], { y: { r: 0, e: 0, h: [] } }, 'resetY forgets y')
  clock.advance(10_000)
  t.same(r.recent(), [], 'old buckets are not published again')
  t.same(parseBuckets(JSON.parse(JSON.stringify(recent))), recent, 'round trip through JSON')
})

t.test('parseBuckets refuses garbage with a reason', async (t) => {
  for (const bad of [
    null,
    {},
    [{ t: -1 }],
    [{ t: 1, x: { r: 1, e: 2, h: [] }, y: { r: 0, e: 0, h: [] } }],
    [{ t: 1, x: { r: 1, e: 0, h: [[99999, 1]] }, y: { r: 0, e: 0, h: [] } }],
    [{ t: 1, x: { r: 1, e: 0, h: [[1, 5]] }, y: { r: 0, e: 0, h: [] } }],
  ]) {
    t.type(parseBuckets(bad), 'string', JSON.stringify(bad))
  }
})

t.test('spans: each bucket counted once however often it is published; a bucket started again counts whole; resetY starts them afresh', async (t) => {
  const w = new FleetWindow(3_000, T0)
  w.put('a', [bucket(0, { r: 10, e: 1 })], T0 + 100)
  w.put('a', [bucket(0, { r: 25, e: 2 })], T0 + 600) // the same second, grown
  w.put('a', [bucket(0, { r: 25, e: 2 }), bucket(1, { r: 5, e: 0 })], T0 + 1_100)
  t.match(w.figures(T0 + 1_200).y.spans?.[0], { start: 0, requests: 30, errors: 2 }, 'since the start: 25 + 5, not 10 + 25 + 25 + 5')
  w.put('b', [bucket(1, { r: 4, e: 4 })], T0 + 1_300)
  w.put('b', [bucket(1, { r: 2, e: 0 })], T0 + 1_400) // b restarted within the second: all of it is new
  t.match(w.figures(T0 + 1_500).y.spans?.[0], { requests: 36, errors: 6 })
  w.put('a', [bucket(4, { r: 7, e: 0 })], T0 + 4_100)
  const spans = w.figures(T0 + 4_200).y.spans ?? []
  t.same(
    spans.map((s) => [s.start, s.requests]),
    [
      [0, 43],
      [1, 7],
    ],
    'a span since the window boundary at 3 s',
  )
  w.resetY(T0 + 5_000)
  t.same(
    (w.figures(T0 + 5_100).y.spans ?? []).map((s) => s.requests),
    [0],
    "y's spans start afresh",
  )
  t.equal(w.figures(T0 + 5_100).x.spans?.[0].requests, 0, "and x's beside them")
})
