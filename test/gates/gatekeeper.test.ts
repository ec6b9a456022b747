import t from 'tap'
import { pino } from 'pino'
import { FakeClock } from '../../src/clock.js'
import type { Config } from '../../src/config/types.js'
import { Gatekeeper } from '../../src/gates/gatekeeper.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import type { LiveState } from '../../src/state/types.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { testGates } from '../helpers/fixtures.js'

const X = { pool: 'x', name: 'x1' } as UpstreamNode
const Y = { pool: 'y', name: 'y1' } as UpstreamNode
const logger = pino({ level: 'silent' })
const gates = testGates()

/** Let the controller's queued writes (an in-memory store) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(initial: Partial<LiveState> = {}, g: Config['gates'] = gates) {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const saved: LiveState[] = []
  const state = new StateController({ y: 10, locked: false, lock_reason: null, rollout: null, ...initial }, { save: async (s) => void saved.push(s) }, events)
  const gk = new Gatekeeper({ gates: g, state, events, clock, logger })
  gk.start()
  return { clock, events, state, gk, saved }
}

t.test('a y failing everything at 1000 req/s is rolled back within a second', async (t) => {
  const { clock, events, state, gk } = setup()
  t.teardown(() => gk.stop())
  clock.advance(300) // not on a tick boundary
  const began = clock.now()
  let rolledBackAt = -1
  for (let ms = 0; ms < 3000 && rolledBackAt < 0; ms++) {
    clock.advance(1)
    gk.answered(X, 200, 10)
    gk.answered(X, 200, 10)
    if (state.current.y > 0) gk.answered(Y, 503, 5) // routing sends no more once y is 0
    if (ms % 10 === 9) {
      await settle()
      if (state.current.locked) rolledBackAt = clock.now()
    }
  }
  t.ok(rolledBackAt > 0, 'rolled back')
  // the first error is judged at once (1 of 1: no verdict), the next look 100 ms later fails
  t.ok(rolledBackAt - began <= 200, `after ${rolledBackAt - began} ms`)
  t.equal(state.current.y, 0)
  t.match(
    state.current.lock_reason,
    /^gate max_error_rate: error_rate 1 > 0\.01 over \d+ requests \(95% lower bound 0\.9\d*\) since y took traffic \d+s ago; evidence over a million >= 27 needed \(time-uniform\)$/,
  )
  const rb = events.since().filter((e) => e.type === 'rollback')
  t.equal(rb.length, 1, 'one rollback, not one per error')
  t.equal(rb[0].cause, 'gate')
  t.equal(rb[0].gate, 'max_error_rate')
  t.match(rb[0].figures, { y: { errors: Number }, x: { requests: Number } })
})

t.test("without errors the gate passes and does nothing; x errors are not y's", async (t) => {
  const { clock, state, gk } = setup()
  t.teardown(() => gk.stop())
  for (let i = 0; i < 2000; i++) {
    clock.advance(1)
    gk.answered(X, 500, 10)
    gk.answered(Y, 200, 10)
  }
  await settle()
  t.equal(gk.verdict().verdict, 'pass')
  t.equal(state.current.locked, false)
  const d = gk.describe()
  t.equal(d.verdict, 'pass')
  t.equal(d.x.error_rate, 1)
  t.equal(d.y.errors, 0)
  t.type(d.evaluated_at, 'string')
  t.equal(d.checks[0].gate, 'max_error_rate')
})

t.test('no verdict below min_requests without a confident failure, so no action', async (t) => {
  const { clock, state, gk } = setup()
  t.teardown(() => gk.stop())
  gk.attemptFailed(Y, 'connect')
  for (let i = 0; i < 98; i++) gk.answered(Y, 200, 10)
  clock.advance(5000)
  await settle()
  t.equal(gk.verdict().verdict, 'none')
  t.equal(state.current.locked, false)
  t.equal(gk.describe().y.requests, 99)
  t.equal(gk.yRequestsTotal(), 99)
})

t.test('fail fast: a y failing 6 of 15 is rolled back before min_requests (issue 16)', async (t) => {
  const { clock, state, gk } = setup({}, { ...gates, max_error_rate: 0.05, min_requests: 30 })
  t.teardown(() => gk.stop())
  clock.advance(100)
  for (let i = 0; i < 15; i++) {
    clock.advance(1) // within one fast-path gap: the first error is looked at alone, the rest at the tick
    if (i % 5 === 1 || i % 5 === 3) gk.attemptFailed(Y, 'connect')
    else gk.answered(Y, 200, 10)
  }
  await settle()
  t.equal(state.current.locked, false, '1 of 2: no verdict')
  clock.advance(1000)
  await settle()
  t.equal(state.current.locked, true, 'rolled back at the next evaluation')
  t.match(state.current.lock_reason, /^gate max_error_rate: error_rate 0\.4 > 0\.05 over 15 requests \(95% lower bound 0\.0\d+\) since y took traffic 1s ago/)
  t.ok(gk.describe().y.requests <= 15)
  t.equal(Object.keys(gk.describe().y).join(), 'requests,errors,error_rate,p99_ms', '/v1/state shows the window figures only')
})

t.test('y is compared with x over the same time: both start counting again when y rejoins', async (t) => {
  const { clock, state, gk } = setup({ y: 0 }, { ...gates, max_error_rate_over_x: 0.005 })
  t.teardown(() => gk.stop())
  for (let i = 0; i < 1000; i++) gk.answered(X, 500, 1) // x failing alone, before y takes traffic
  clock.advance(1000)
  await state.setSplit(10, 'api')
  for (let i = 0; i < 1000; i++) {
    gk.answered(X, 200, 1)
    if (i % 10 === 0) gk.answered(Y, 200, 1)
  }
  clock.advance(1000)
  const report = gk.verdict()
  t.same(
    report.x.spans!.map((s) => s.requests),
    [1000],
    'x counts from when y joined',
  )
  t.equal(report.y.spans![0].requests, 100)
  t.equal(report.x.requests, 2000, 'the window still holds both')
})

t.test('the p99 gate trips on the 1 s evaluation', async (t) => {
  const { clock, state, gk } = setup({}, { ...gates, max_p99_ms: 500 })
  t.teardown(() => gk.stop())
  for (let i = 0; i < 200; i++) gk.answered(Y, 200, 900)
  await settle()
  t.equal(state.current.locked, false, 'no errors: the fast path stays quiet')
  clock.advance(1000)
  await settle()
  t.equal(state.current.locked, true)
  t.match(state.current.lock_reason, /p99_ms (89\d|90\d) > 500 over 200 requests/)
})

t.test('no action while y is 0 or the split is locked', async (t) => {
  for (const initial of [{ y: 0 }, { y: 20, locked: true, lock_reason: 'manual' }]) {
    const { clock, events, gk } = setup(initial)
    for (let i = 0; i < 300; i++) gk.answered(Y, 500, 1)
    clock.advance(2000)
    await settle()
    gk.stop()
    t.equal(gk.verdict().verdict, 'fail', 'the verdict is still shown')
    t.equal(events.since().filter((e) => e.type === 'rollback').length, 0)
  }
})

t.test('after a rollback the y window is reset: unlock and a new split do not re-trip', async (t) => {
  const { clock, state, gk, events } = setup()
  t.teardown(() => gk.stop())
  for (let i = 0; i < 200; i++) gk.answered(Y, 500, 1)
  clock.advance(1000) // the burst came within one fast-path gap: the tick judges it
  await settle()
  t.equal(state.current.locked, true)
  t.equal(gk.describe().y.requests, 0, 'y forgotten at the rollback')
  clock.advance(100)
  gk.answered(Y, 500, 1) // a straggler still in flight at the rollback
  await state.unlock('api')
  await state.setSplit(5, 'api')
  t.equal(gk.describe().y.requests, 0, 'y forgotten again as it rejoins')
  for (let i = 0; i < 500; i++) gk.answered(Y, 200, 1)
  clock.advance(3000)
  await settle()
  t.equal(state.current.locked, false)
  t.equal(state.current.y, 5)
  t.equal(gk.verdict().verdict, 'pass')
  t.equal(events.since().filter((e) => e.type === 'rollback').length, 1)
})

t.test('action pause pauses a running rollout and raises an event, without rollback', async (t) => {
  const rollout = {
    steps: [
      { y: 10, hold: 60_000 },
      { y: 100, hold: 0 },
    ],
    step: 0,
    status: 'running' as const,
    started_at: '2026-01-01T00:00:00.000Z',
  }
  const { clock, state, gk, events } = setup({ rollout }, { ...gates, action: 'pause' })
  t.teardown(() => gk.stop())
  for (let i = 0; i < 200; i++) gk.answered(Y, 500, 1)
  clock.advance(3000)
  await settle()
  const paused = events.since().filter((e) => e.type === 'rollout.paused')
  t.equal(paused.length, 1, 'paused once, not on every evaluation')
  t.match(paused[0], { cause: 'gate', step: 0, y: 10, reason: /^gate max_error_rate: error_rate 1 > 0\.01/ })
  t.equal(state.current.rollout?.status, 'paused')
  t.equal(state.current.y, 10, 'the split holds')
  t.equal(state.current.locked, false)
  const types = events.since().map((e) => e.type)
  t.ok(types.includes('gate.failed'))
  t.notOk(types.includes('rollback'))
  t.equal(types.filter((x) => x === 'gate.failed').length, 1, 'one event per failing episode')
})

t.test('action pause without a rollout only raises the event', async (t) => {
  const { clock, state, gk, events } = setup({}, { ...gates, action: 'pause' })
  t.teardown(() => gk.stop())
  for (let i = 0; i < 200; i++) gk.answered(Y, 500, 1)
  clock.advance(5000)
  await settle()
  t.equal(state.current.y, 10)
  const failed = events.since().filter((e) => e.type === 'gate.failed')
  t.equal(failed.length, 1)
  t.equal(failed[0].action, 'pause')
})

t.test('a failed state write does not lock the gate out: it tries again', async (t) => {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  let fail = true
  const state = new StateController(
    { y: 10, locked: false, lock_reason: null, rollout: null },
    {
      save: async () => {
        if (fail) throw new Error('disk full')
      },
    },
    events,
  )
  const gk = new Gatekeeper({ gates, state, events, clock, logger })
  gk.start()
  t.teardown(() => gk.stop())
  for (let i = 0; i < 200; i++) gk.answered(Y, 500, 1)
  clock.advance(1000)
  await settle()
  t.equal(state.current.locked, false, 'the rollback could not be written')
  t.equal(gk.verdict().verdict, 'fail')
  fail = false
  clock.advance(1000)
  await settle()
  t.equal(state.current.locked, true)
})

t.test('configure with a new window size starts afresh; same size keeps the figures', (t) => {
  const { gk } = setup()
  gk.stop()
  for (let i = 0; i < 50; i++) gk.answered(Y, 200, 1)
  gk.configure({ ...gates, max_error_rate: 0.02 })
  t.equal(gk.evaluate().y.requests, 50)
  gk.configure({ ...gates, window: 30_000 })
  t.equal(gk.evaluate().y.requests, 0)
  t.end()
})

t.test('/v1/state shows the window as the last evaluation saw it: its figures and its checks agree (issue 16)', async (t) => {
  const { clock, gk } = setup()
  t.teardown(() => gk.stop())
  for (let i = 0; i < 20; i++) gk.answered(Y, 200, 10)
  clock.advance(1000)
  await settle()
  for (let i = 0; i < 5; i++) gk.answered(Y, 200, 10) // recorded after the evaluation
  const d = gk.describe()
  t.equal(d.y.requests, 20, 'not 25: the checks beside it speak of 20')
  t.equal(d.y.requests, gk.verdict().y.requests)
})
