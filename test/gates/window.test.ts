import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { SlidingWindow } from '../../src/gates/window.js'

t.test('counts within the window and forgets buckets as they turn over', (t) => {
  const clock = new FakeClock(1_000_000) // aligned on a 1 s bucket
  const w = new SlidingWindow(10_000, clock, 10)
  t.equal(w.bucketMs, 1000)
  t.match(w.figures(), { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 })
  for (let i = 0; i < 10; i++) w.record(i < 2, 10) // bucket 0: 10 requests, 2 errors
  clock.advance(3000)
  for (let i = 0; i < 30; i++) w.record(false, 20) // bucket 3: 30 requests
  let f = w.figures()
  t.equal(f.requests, 40)
  t.equal(f.errors, 2)
  t.equal(f.error_rate, 0.05)
  clock.advance(6999) // still in bucket 9: bucket 0 is 9 buckets back, still inside
  t.equal(w.figures().requests, 40)
  clock.advance(1) // bucket 10 reuses slot 0: the first 10 requests leave
  f = w.figures()
  t.equal(f.requests, 30)
  t.equal(f.errors, 0)
  t.ok(Math.abs(f.p99_ms - 20) / 20 < 0.011, `p99 ${f.p99_ms} from the 20 ms requests only`)
  clock.advance(3000) // bucket 3's turn: all gone
  t.match(w.figures(), { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 })
  t.end()
})

t.test('a long silence clears everything at once; failed attempts have no latency', (t) => {
  const clock = new FakeClock(0)
  const w = new SlidingWindow(60_000, clock)
  w.record(true)
  w.record(true)
  w.record(false, 7)
  t.equal(w.currentErrors, 2)
  t.equal(w.figures().requests, 3)
  t.ok(Math.abs(w.figures().p99_ms - 7) / 7 < 0.011, 'only the answered request has a latency')
  clock.advance(10 * 60_000)
  t.equal(w.figures().requests, 0)
  t.equal(w.currentErrors, 0)
  w.record(true, 1)
  t.same({ r: w.requests, e: w.errors }, { r: 1, e: 1 })
  t.end()
})

t.test('reset forgets; a clock stepping back keeps filling the current bucket', (t) => {
  const clock = new FakeClock(5_000)
  const w = new SlidingWindow(60_000, clock)
  for (let i = 0; i < 50; i++) w.record(true, 3)
  w.reset()
  t.match(w.figures(), { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 })
  let now = 5_000
  const stepping = { now: () => now, monotonic: () => now, setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock), afterIo: clock.afterIo.bind(clock) }
  const w2 = new SlidingWindow(10_000, stepping, 10)
  w2.record(true, 1)
  now = 2_000 // NTP stepped the clock back 3 s
  w2.record(false, 1)
  t.same({ r: w2.figures().requests, e: w2.figures().errors }, { r: 2, e: 1 })
  now = 14_999 // bucket 14: bucket 5 is still inside
  t.equal(w2.figures().requests, 2)
  now = 15_000
  t.equal(w2.figures().requests, 0)
  t.throws(() => new SlidingWindow(0, clock))
  t.end()
})

t.test('spans: since the reset, and since each of the last two window boundaries', (t) => {
  const clock = new FakeClock(1_000_000)
  const w = new SlidingWindow(10_000, clock, 10)
  for (let i = 0; i < 20; i++) w.record(i < 4, 100 * (i + 1)) // 4 errors, latencies 100..2000 ms
  let f = w.figures(1050)
  t.same(f.spans, [{ start: 0, ms: 0, requests: 20, errors: 4, answered: 20, slow: 10 }])
  t.equal(f.slow, 10, 'ten answers slower than 1050 ms in the window')
  t.equal(f.answered, 20)
  t.equal(w.figures().slow, 0, 'no latency asked: none counted slow')
  clock.advance(10_000) // the first boundary
  for (let i = 0; i < 5; i++) w.record(true, 50)
  f = w.figures(1050)
  t.equal(f.requests, 5, 'the window forgot the first 20')
  t.same(f.spans, [
    { start: 0, ms: 10_000, requests: 25, errors: 9, answered: 25, slow: 10 },
    { start: 1, ms: 0, requests: 5, errors: 5, answered: 5, slow: 0 },
  ])
  clock.advance(10_000)
  w.record(false, 5000)
  clock.advance(25_000) // two boundaries at once: the 3rd and 4th would hold the same counts
  w.record(false)
  f = w.figures(1050)
  t.same(
    f.spans!.map((s) => [s.start, s.ms, s.requests, s.slow]),
    [
      [0, 45_000, 27, 11],
      [2, 25_000, 2, 1],
      [4, 5_000, 1, 0],
    ],
    'two boundaries crossed at once (nothing recorded between them): the later is kept',
  )
  t.end()
})

t.test('spans keep the last two boundaries; restart starts them afresh and keeps the window', (t) => {
  const clock = new FakeClock(0)
  const w = new SlidingWindow(1000, clock, 10)
  for (let s = 0; s < 5; s++) {
    w.record(s === 4)
    clock.advance(1000)
  }
  w.record(false)
  let f = w.figures()
  t.same(
    f.spans!.map((s) => [s.start, s.requests, s.errors]),
    [
      [0, 6, 1],
      [4, 2, 1],
      [5, 1, 0],
    ],
  )
  w.restart()
  f = w.figures()
  t.equal(f.requests, 1, 'the window keeps its buckets')
  t.same(
    f.spans!.map((s) => [s.start, s.requests]),
    [[0, 0]],
  )
  clock.advance(1000)
  t.same(
    w.figures().spans!.map((s) => s.start),
    [0, 1],
    'boundaries count from the restart',
  )
  w.record(true)
  w.reset()
  t.same(w.figures().spans, [{ start: 0, ms: 0, requests: 0, errors: 0, answered: 0, slow: 0 }])
  t.end()
})
