import t from 'tap'
import { FakeClock, seededRandom, systemClock } from '../src/clock.js'

t.test('FakeClock runs due timers in time order, only when advanced', async (t) => {
  const clock = new FakeClock(1000)
  const seen: string[] = []
  clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20)
  clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10)
  const cancelled = clock.setTimeout(() => seen.push('never'), 15)
  clock.clearTimeout(cancelled)
  t.equal(clock.pending, 2)
  clock.advance(5)
  t.same(seen, [])
  t.equal(clock.now(), 1005)
  clock.advance(100)
  t.same(seen, ['a@1010', 'b@1020'])
  t.equal(clock.now(), 1105)
  t.equal(clock.pending, 0)
})

t.test('a timer set by a timer within the advanced span also runs', async (t) => {
  const clock = new FakeClock(0)
  const seen: number[] = []
  const tick = () => {
    seen.push(clock.now())
    if (seen.length < 3) clock.setTimeout(tick, 10)
  }
  clock.setTimeout(tick, 10)
  clock.advance(100)
  t.same(seen, [10, 20, 30])
})

t.test('seededRandom repeats for a seed and stays in [0, 1)', async (t) => {
  const a = seededRandom(42)
  const b = seededRandom(42)
  const xs = Array.from({ length: 1000 }, () => a())
  t.same(
    xs,
    Array.from({ length: 1000 }, () => b()),
  )
  t.ok(xs.every((x) => x >= 0 && x < 1))
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  t.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean} within 0.05 of 0.5`)
  t.not(seededRandom(1)(), seededRandom(2)())
})

t.test('the system clock timers are unref and cancellable', async (t) => {
  let ran = false
  const h = systemClock.setTimeout(() => (ran = true), 1)
  systemClock.clearTimeout(h)
  systemClock.clearTimeout(null)
  await new Promise((r) => setTimeout(r, 5))
  t.equal(ran, false)
  t.ok(Math.abs(systemClock.now() - Date.now()) < 50)
  t.ok(Math.abs(systemClock.monotonic() - performance.now()) < 50)
})

t.test('the fake monotonic reading starts at 0 and moves with advance', async (t) => {
  const clock = new FakeClock(1_000_000)
  t.equal(clock.monotonic(), 0)
  clock.advance(250)
  t.equal(clock.monotonic(), 250)
  t.equal(clock.now(), 1_000_250)
})
