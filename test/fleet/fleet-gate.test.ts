/**
 * The fleet's gate goes through the single cutover's path: the same Gatekeeper, the same
 * time-uniform spans (issue 18), over the fleet's summed window. A borderline y that one
 * cutover keeps is kept by the fleet's leader too; a failing one is rolled back by the
 * leader only.
 */

import t from 'tap'
import { pino } from 'pino'
import { FakeClock } from '../../src/clock.js'
import type { Config } from '../../src/config/types.js'
import { FleetWindow } from '../../src/fleet/fleet-window.js'
import { fleetGatekeeper } from '../../src/fleet/fleet.js'
import { TrafficRecorder } from '../../src/fleet/traffic-buckets.js'
import { Gatekeeper } from '../../src/gates/gatekeeper.js'
import { evaluateGates } from '../../src/gates/verdict.js'
import type { WindowFigures } from '../../src/gates/window.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { testGates } from '../helpers/fixtures.js'

const X = { pool: 'x', name: 'x1' } as UpstreamNode
const Y = { pool: 'y', name: 'y1' } as UpstreamNode
const logger = pino({ level: 'silent' })
const T0 = Date.UTC(2026, 0, 1)
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** One cutover, and a fleet of two replicas seen by one leader, given the same traffic second by second. */
function setup(gates: Config['gates'], leading = true) {
  const clock = new FakeClock(T0)
  const mk = () => {
    const events = new EventLog(clock)
    return { events, state: new StateController({ y: 10, locked: false, lock_reason: null, rollout: null }, { save: async () => {} }, events) }
  }
  const single = { ...mk(), gk: null as unknown as Gatekeeper }
  single.gk = new Gatekeeper({ gates, state: single.state, events: single.events, clock, logger })
  const window = new FleetWindow(gates.window, clock.now())
  const replicas = [new TrafficRecorder(clock), new TrafficRecorder(clock)]
  const fleet = { ...mk(), gk: null as unknown as Gatekeeper }
  fleet.gk = fleetGatekeeper({ replicaId: 'r1', gates, state: fleet.state, events: fleet.events, clock, logger, window, recorder: replicas[0], leading: () => leading, replicas: () => 2 })
  single.gk.start()
  fleet.gk.start()
  /** One second: `requests` y requests split over the replicas, `errors` of them failing, x beside them; each replica publishes. */
  const second = (requests: number, errors: number) => {
    for (let i = 0; i < requests; i++) {
      const status = i < errors ? 503 : 200
      single.gk.answered(Y, status, 10)
      single.gk.answered(X, 200, 10)
      replicas[i % 2].answered(Y, status, 10)
      replicas[i % 2].answered(X, 200, 10)
    }
    clock.advance(1000)
    for (const [i, r] of replicas.entries()) window.put(`r${i + 1}`, r.recent(), clock.now())
  }
  return {
    clock,
    single,
    fleet,
    window,
    second,
    stop: () => {
      single.gk.stop()
      fleet.gk.stop()
    },
  }
}

const windowOnly = (f: WindowFigures): WindowFigures => ({ requests: f.requests, errors: f.errors, error_rate: f.error_rate, p99_ms: f.p99_ms })

t.test('a borderline y: one cutover keeps it, and so does the fleet leader (the same spans)', async (t) => {
  const gates = testGates({ window: 10_000, min_requests: 50, max_error_rate: 0.05 })
  const { single, fleet, window, clock, second, stop } = setup(gates)
  t.teardown(stop)
  // ten minutes of a y well within its limit (2% errors at 20 requests a second) ...
  for (let s = 0; s < 600; s++) second(20, s % 5 === 0 ? 2 : 0)
  // ... then a window at 2.5 times the limit: a sliding window judged alone calls it a fail
  for (let s = 0; s < 10; s++) second(20, s % 2 === 0 ? 3 : 2)
  await settle()
  const f = window.figures(clock.now(), gates.max_p99_ms)
  t.equal(evaluateGates(windowOnly(f.x), windowOnly(f.y), gates).verdict, 'fail', 'the window alone, without the spans, would roll back')
  t.ok((f.y.spans?.length ?? 0) >= 2, 'the fleet window counts spans: since y took traffic and since the last boundaries')
  t.equal(f.y.spans?.[0].requests, 610 * 20, 'every request counted once, though each second was published several times')
  t.not(single.gk.evaluate().verdict, 'fail', 'one cutover does not roll back')
  t.not(fleet.gk.evaluate().verdict, 'fail', 'nor does the fleet leader')
  t.equal(single.state.current.y, 10)
  t.equal(fleet.state.current.y, 10, 'the fleet is not rolled back')
  t.same(
    fleet.gk.verdict().checks.map((c) => [c.gate, c.verdict, Math.round(c.threshold)]),
    single.gk.verdict().checks.map((c) => [c.gate, c.verdict, Math.round(c.threshold)]),
    'the same check, judged on the same span share',
  )
})

t.test("a failing y is rolled back by the leader, over the fleet's traffic; a replica that does not lead only reports it", async (t) => {
  const gates = testGates({ window: 10_000, min_requests: 50, max_error_rate: 0.05 })
  for (const leading of [true, false]) {
    const { fleet, second, stop } = setup(gates, leading)
    for (let s = 0; s < 30; s++) second(20, 0)
    for (let s = 0; s < 5; s++) second(20, 10)
    t.equal(fleet.gk.evaluate().verdict, 'fail', `leading ${leading}: the verdict is fail`)
    await settle()
    stop()
    if (leading) {
      t.equal(fleet.state.current.y, 0, 'rolled back')
      t.match(
        fleet.state.current.lock_reason,
        /^gate max_error_rate over the fleet's traffic \(2 replicas\): error_rate .* in the last \d+s; evidence .* \(time-uniform\)$/,
        'judged on the span since the last boundary',
      )
      t.match(
        fleet.events.since().find((e) => e.type === 'rollback'),
        { cause: 'gate', leader: 'r1', replicas: 2 },
      )
    } else t.equal(fleet.state.current.y, 10, 'not rolled back by a replica that does not lead')
  }
})
