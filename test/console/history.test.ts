import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { HISTORY_SLOT_MS, HISTORY_SLOTS, TrafficHistory } from '../../src/console/history.js'
import { pino } from 'pino'
import { Gatekeeper } from '../../src/gates/gatekeeper.js'
import { grpcMask, isGrpcFailure } from '../../src/h2/grpc-status.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { testGates } from '../helpers/fixtures.js'
import { fanOut } from '../../src/outcome/fan-out.js'

// a start on a slot boundary keeps the arithmetic readable
const START = Date.UTC(2026, 0, 1, 12, 0, 0)

t.test('empty: 180 slots per pool, oldest first, zeros and nulls', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock)
  const s = h.snapshot()
  t.equal(s.slot_ms, 5000)
  t.equal(s.pools.x.length, HISTORY_SLOTS)
  t.equal(s.pools.y.length, HISTORY_SLOTS)
  t.equal(s.pools.x[HISTORY_SLOTS - 1].t, START, 'the last slot is the current one')
  t.equal(s.pools.x[0].t, START - (HISTORY_SLOTS - 1) * HISTORY_SLOT_MS, '15 minutes back')
  t.ok(
    s.pools.y.every((p, i) => i === 0 || p.t - s.pools.y[i - 1].t === HISTORY_SLOT_MS),
    'one slot apart',
  )
  t.same(s.pools.y[10], { t: s.pools.y[10].t, requests_per_s: 0, error_rate: null, p99_ms: null })
})

t.test('rates, error rate and p99 per slot and per pool', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock)
  // slot 0: 100 x requests, 10ms each but one 500 ms; 4 of them 5xx, one 404
  for (let i = 0; i < 100; i++) h.finished('x', i < 4 ? 503 : i === 4 ? 404 : 200, i === 99 ? 500 : 10)
  // y: 50 requests at 20 ms, 1 error
  for (let i = 0; i < 50; i++) h.finished('y', i === 0 ? 502 : 200, 20)
  clock.advance(HISTORY_SLOT_MS)
  // next slot: 10 x requests at 1000 ms
  for (let i = 0; i < 10; i++) h.finished('x', 200, 1000)
  clock.advance(2_000)
  const s = h.snapshot()
  const x0 = s.pools.x[HISTORY_SLOTS - 2]
  const x1 = s.pools.x[HISTORY_SLOTS - 1]
  const y0 = s.pools.y[HISTORY_SLOTS - 2]
  t.equal(x0.t, START)
  t.equal(x0.requests_per_s, 20, '100 requests in 5 s')
  t.equal(x0.error_rate, 0.04, 'only 5xx count, not 404')
  // p99 of 99 values at 10 ms and one at 500: the 99th is 10 ms (histogram within 2%)
  t.ok(Math.abs(x0.p99_ms! - 10) <= 0.2, `p99 ${x0.p99_ms} ~ 10 ms`)
  t.equal(y0.requests_per_s, 10)
  t.equal(y0.error_rate, 0.02)
  t.ok(Math.abs(y0.p99_ms! - 20) <= 0.4, `p99 ${y0.p99_ms} ~ 20 ms`)
  t.equal(x1.t, START + HISTORY_SLOT_MS)
  t.equal(x1.requests_per_s, 5, 'the filling slot is rated over the 2 s it has run')
  t.equal(x1.error_rate, 0)
  t.ok(Math.abs(x1.p99_ms! - 1000) <= 20, `p99 ${x1.p99_ms} ~ 1000 ms`)
  t.same(s.pools.y[HISTORY_SLOTS - 1], { t: START + HISTORY_SLOT_MS, requests_per_s: 0, error_rate: null, p99_ms: null }, 'y had nothing in the last slot')
})

t.test('p99 follows the slowest percent', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock)
  for (let i = 0; i < 1000; i++) h.finished('y', 200, i < 980 ? 5 : 800)
  clock.advance(HISTORY_SLOT_MS)
  const p = h.snapshot().pools.y[HISTORY_SLOTS - 2]
  t.ok(Math.abs(p.p99_ms! - 800) <= 16, `p99 ${p.p99_ms} ~ 800 ms (2% of requests are slow)`)
})

t.test('after 15 minutes a slot is reused, and old traffic falls out', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock)
  for (let i = 0; i < 50; i++) h.finished('x', 500, 10)
  clock.advance((HISTORY_SLOTS - 1) * HISTORY_SLOT_MS)
  let s = h.snapshot()
  t.equal(s.pools.x[0].t, START, 'the first slot is still the oldest shown')
  t.equal(s.pools.x[0].requests_per_s, 10)
  clock.advance(HISTORY_SLOT_MS)
  s = h.snapshot()
  t.equal(s.pools.x[0].t, START + HISTORY_SLOT_MS)
  t.ok(
    s.pools.x.every((p) => p.requests_per_s === 0),
    'the 15-minute-old slot is gone',
  )
  // the same ring index, one lap later: counts start afresh
  for (let i = 0; i < 5; i++) h.finished('x', 200, 10)
  clock.advance(HISTORY_SLOT_MS)
  s = h.snapshot()
  const lap = s.pools.x[HISTORY_SLOTS - 2]
  t.equal(lap.t, START + HISTORY_SLOTS * HISTORY_SLOT_MS)
  t.equal(lap.requests_per_s, 1, 'only the new lap counted')
  t.equal(lap.error_rate, 0, 'old errors do not leak into the new lap')
  // long silence: nothing stale shows up
  clock.advance(7 * HISTORY_SLOTS * HISTORY_SLOT_MS + 1234)
  s = h.snapshot()
  t.ok(
    s.pools.x.every((p) => p.requests_per_s === 0 && p.p99_ms === null),
    'hours later: all empty',
  )
})

t.test('the outcome methods other than finished record nothing', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock)
  const report = fanOut([h])
  const node = {} as never
  report.attemptStarted(node)
  report.attemptFailed(node, 'connect')
  report.answered(node, 500, 10)
  report.attemptEnded(node)
  t.ok(h.snapshot().pools.x.every((p) => p.requests_per_s === 0))
})

t.test('a gRPC call answered 200 with a failing grpc-status is an error, by gates.grpc_failures', async (t) => {
  const clock = new FakeClock(START)
  const h = new TrafficHistory(clock, grpcMask(['UNAVAILABLE', 'INTERNAL']))
  h.finished('y', 200, 10, 'h2', 14) // UNAVAILABLE: a failure
  h.finished('y', 200, 10, 'h2', 13) // INTERNAL: a failure
  h.finished('y', 200, 10, 'h2', 5) // NOT_FOUND: the caller's fault, not counted
  h.finished('y', 200, 10, 'h2', 0) // OK
  h.finished('y', 200, 10, 'h2') // no gRPC call
  clock.advance(HISTORY_SLOT_MS)
  t.equal(h.snapshot().pools.y[HISTORY_SLOTS - 2].error_rate, 0.4, '2 of 5')
  // a reload that changes gates.grpc_failures changes what counts from then on
  h.setGrpcFailures(grpcMask(['NOT_FOUND']))
  h.finished('y', 200, 10, 'h2', 14)
  h.finished('y', 200, 10, 'h2', 5)
  clock.advance(HISTORY_SLOT_MS)
  t.equal(h.snapshot().pools.y[HISTORY_SLOTS - 2].error_rate, 0.5, 'only NOT_FOUND now')
})

t.test('history and gate count the same calls as errors (one classification)', async (t) => {
  const clock = new FakeClock(START)
  const gates = testGates({ grpc_failures: ['UNAVAILABLE', 'DEADLINE_EXCEEDED'], min_requests: 1 })
  const mask = grpcMask(gates.grpc_failures)
  const h = new TrafficHistory(clock, mask)
  const events = new EventLog(clock)
  const state = new StateController({ y: 10, locked: true, lock_reason: 'test', rollout: null }, { save: async () => undefined }, events)
  const g = new Gatekeeper({ gates, state, events, clock, logger: pino({ level: 'silent' }) })
  const node = { pool: 'y' } as UpstreamNode
  const calls: [number, number][] = [
    [200, 14],
    [200, 4],
    [200, 0],
    [200, 3],
    [503, 14],
    [200, -1],
    [502, -1],
    [404, -1],
  ]
  for (const [status, grpc] of calls) {
    // what the h2 stream exchange reports for one call: answered (to the gate) and finished (to the history)
    g.answered(node, status, 10, isGrpcFailure(grpc, mask))
    h.finished('y', status, 10, 'h2', grpc)
  }
  clock.advance(HISTORY_SLOT_MS)
  const slot = h.snapshot().pools.y[HISTORY_SLOTS - 2]
  t.equal(slot.error_rate, 4 / 8)
  t.equal(g.evaluate().y.errors, 4, 'the gate counts the same four')
})
