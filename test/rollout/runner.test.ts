import t from 'tap'
import { pino } from 'pino'
import { FakeClock } from '../../src/clock.js'
import type { Config } from '../../src/config/types.js'
import { Gatekeeper } from '../../src/gates/gatekeeper.js'
import { RolloutRunner } from '../../src/rollout/runner.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import type { LiveState, RolloutProgress } from '../../src/state/types.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { testGates } from '../helpers/fixtures.js'

const Y = { pool: 'y', name: 'y1' } as UpstreamNode
const X = { pool: 'x', name: 'x1' } as UpstreamNode
const logger = pino({ level: 'silent' })
const gates = testGates()
const plan: Config['rollout'] = {
  steps: [
    { y: 10, hold: 60_000 },
    { y: 50, hold: 60_000 },
    { y: 100, hold: 0 },
  ],
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(initial: Partial<LiveState> = {}, withPlan = true) {
  const config = withPlan ? plan : undefined
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const saved: LiveState[] = []
  const state = new StateController({ y: 0, locked: false, lock_reason: null, rollout: null, ...initial }, { save: async (s) => void saved.push(structuredClone(s)) }, events)
  const gatekeeper = new Gatekeeper({ gates, state, events, clock, logger })
  const runner = new RolloutRunner({ config, gates, state, events, clock, gatekeeper, logger })
  gatekeeper.start()
  /** Run for ms in 1 s steps, with perSecond y requests (status) and as many x ones each second. */
  async function run(ms: number, perSecond: number, status = 200): Promise<void> {
    for (let s = 0; s < ms; s += 1000) {
      for (let i = 0; i < perSecond; i++) {
        if (state.current.y > 0) gatekeeper.answered(Y, status, 20)
        gatekeeper.answered(X, 200, 20)
      }
      clock.advance(1000)
      await settle()
    }
  }
  const stop = () => {
    runner.stop()
    gatekeeper.stop()
  }
  return { clock, events, state, gatekeeper, runner, saved, run, stop }
}

const types = (events: EventLog) => events.since().map((e) => e.type)

t.test('walks 10 -> 50 -> 100 with holds, each step one persisted write', async (t) => {
  const { events, state, runner, saved, run, stop } = setup()
  t.teardown(stop)
  const d = await runner.start()
  t.match(d, { step: 0, status: 'running', y: 10, hold_left_ms: 60_000, holding: null })
  t.match(state.current, { y: 10, rollout: { step: 0, status: 'running' } })
  await run(30_000, 10)
  t.equal(runner.describe()?.hold_left_ms, 30_000)
  t.equal(state.current.rollout?.step, 0)
  await run(31_000, 10)
  t.match(state.current, { y: 50, rollout: { step: 1 } })
  await run(61_000, 10)
  t.equal(state.current.y, 100)
  t.equal(state.current.rollout, null)
  t.equal(runner.describe(), null)
  t.same(
    types(events).filter((x) => x.startsWith('rollout')),
    ['rollout.started', 'rollout.step', 'rollout.step', 'rollout.done'],
  )
  for (const s of saved) if (s.rollout) t.equal(s.y, s.rollout.steps[s.rollout.step].y, `y ${s.y} written with its step ${s.rollout.step}`)
  t.match(
    events.since().find((e) => e.type === 'rollout.done'),
    { cause: 'rollout', to: 100 },
  )
})

t.test('too little traffic holds the step, says so, and repeats it at most once a minute', async (t) => {
  const { events, state, runner, run, stop } = setup()
  t.teardown(stop)
  await runner.start()
  await run(61_000, 1) // 61 y requests by the end of the hold
  t.equal(state.current.rollout?.step, 0)
  const holding = () => events.since().filter((e) => e.type === 'rollout.holding')
  t.equal(holding().length, 1)
  t.match(holding()[0].reason, /^holding: y has \d+ of the 100 requests a step needs; at the current rate that takes about \d+ s$/)
  t.match(runner.describe(), { step: 0, hold_left_ms: 0, holding: /^y has \d+ of the 100 requests a step needs/, waiting: { needed: 100 } })
  await run(30_000, 1)
  t.equal(holding().length, 1, 'not every tick')
  await run(31_000, 1)
  t.equal(holding().length, 2, 'again after a minute')
  t.equal(state.current.rollout?.step, 0)
  await run(2000, 100) // enough y requests during the step and in the window
  t.equal(state.current.rollout?.step, 1)
  t.equal(runner.describe()?.holding, null)
})

t.test('pause holds the step and its hold; resume goes on from there', async (t) => {
  const { events, state, runner, run, stop } = setup()
  t.teardown(stop)
  await runner.start()
  await run(20_000, 10)
  const paused = await runner.pause()
  t.match(paused, { status: 'paused', hold_left_ms: 40_000 })
  await t.rejects(runner.pause(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
  await run(300_000, 10)
  t.match(state.current, { y: 10, rollout: { step: 0, status: 'paused' } })
  t.equal(runner.describe()?.hold_left_ms, 40_000)
  const resumed = await runner.resume()
  t.match(resumed, { status: 'running', hold_left_ms: 40_000 })
  await t.rejects(runner.resume(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
  await run(39_000, 10)
  t.equal(state.current.rollout?.step, 0)
  await run(2000, 10)
  t.equal(state.current.rollout?.step, 1)
  t.ok(types(events).includes('rollout.paused') && types(events).includes('rollout.resumed'))
})

t.test('promote jumps to 100 and finishes', async (t) => {
  const { events, state, runner, clock, stop } = setup()
  t.teardown(stop)
  await runner.start()
  t.equal(await runner.promote(), null)
  t.match(state.current, { y: 100, rollout: null, locked: false })
  t.match(
    events.since().find((e) => e.type === 'rollout.promoted'),
    { from: 10, to: 100 },
  )
  await t.rejects(runner.promote(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
  t.equal(clock.pending, 1, 'only the gate timer is left')
})

t.test('abort rolls back with a reason and stops the rollout', async (t) => {
  const { events, state, runner, clock, stop } = setup()
  t.teardown(stop)
  await t.rejects(runner.abort(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
  await runner.start()
  await runner.abort('bad smell')
  t.match(state.current, { y: 0, locked: true, lock_reason: 'bad smell', rollout: null })
  t.match(
    events.since().find((e) => e.type === 'rollback'),
    { cause: 'api', reason: 'bad smell', rollout_stopped: true },
  )
  t.equal(events.since().filter((e) => e.type === 'rollback').length, 1, 'one rollback')
  t.equal(clock.pending, 1, 'only the gate timer is left')
  await state.unlock('api')
  await runner.start()
  await runner.abort()
  t.equal(state.current.lock_reason, 'rollout aborted via API')
})

t.test('409 rules: running, locked, manual split, no plan; bad steps change nothing', async (t) => {
  const { state, runner, stop } = setup()
  t.teardown(stop)
  await t.rejects(runner.resume(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
  await t.rejects(runner.start([{ y: 10 }, { y: 5 }]), { code: 'CUTOVER_ERR_BAD_REQUEST' })
  t.equal(state.current.rollout, null)
  await runner.start([{ y: 20, hold: '10s' }, { y: 100 }])
  t.match(state.current, {
    y: 20,
    rollout: {
      steps: [
        { y: 20, hold: 10_000 },
        { y: 100, hold: 0 },
      ],
    },
  })
  await t.rejects(runner.start(), { code: 'CUTOVER_ERR_ROLLOUT_RUNNING' })
  await t.rejects(state.setSplit(30, 'api'), { code: 'CUTOVER_ERR_ROLLOUT_RUNNING' })
  await state.rollback('manual', 'api')
  t.equal(state.current.rollout, null, 'a rollback stops the rollout')
  await t.rejects(runner.start(), { code: 'CUTOVER_ERR_LOCKED' })
  await state.unlock('api')
  await runner.start()
  t.equal(state.current.y, 10)

  const none = setup({}, false)
  t.teardown(none.stop)
  await t.rejects(none.runner.start(), { code: 'CUTOVER_ERR_ROLLOUT_STATE' })
})

t.test('a rollout started while y is above its first step starts at the first step at or above y, never pulls y back', async (t) => {
  const above = setup({ y: 30 })
  t.teardown(above.stop)
  await above.runner.start()
  t.match(above.state.current, { y: 50, rollout: { step: 1 } }, 'y 30 starts at the 50% step')
  t.match(
    above.events.since().find((e) => e.type === 'rollout.started'),
    { step: 1, of: 3, from: 30, to: 50 },
  )

  const at = setup({ y: 50 })
  t.teardown(at.stop)
  await at.runner.start()
  t.match(at.state.current, { y: 50, rollout: { step: 1 } }, 'y at a step starts there')

  const beyond = setup({ y: 60 })
  t.teardown(beyond.stop)
  await t.rejects(beyond.runner.start([{ y: 10, hold: '1s' }, { y: 50 }]), {
    code: 'CUTOVER_ERR_ROLLOUT_STATE',
    message: /^y is at 60%, above every step of the plan \(10% → 50%\); a rollout would pull it back/,
  })
  t.match(beyond.state.current, { y: 60, rollout: null }, 'refused: nothing changed')
})

t.test('a gate rollback during a rollout stops its timer', async (t) => {
  const { state, runner, clock, run, stop } = setup()
  t.teardown(stop)
  await runner.start()
  await run(2000, 200, 500)
  t.match(state.current, { y: 0, locked: true, rollout: null })
  t.match(state.current.lock_reason, /^gate max_error_rate/)
  t.equal(clock.pending, 1, 'only the gate timer is left')
  t.equal(runner.describe(), null)
})

t.test('gate action pause holds a running rollout', async (t) => {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const state = new StateController({ y: 0, locked: false, lock_reason: null, rollout: null }, { save: async () => {} }, events)
  const pauseGates = { ...gates, action: 'pause' as const }
  const gatekeeper = new Gatekeeper({ gates: pauseGates, state, events, clock, logger })
  const runner = new RolloutRunner({ config: plan, gates: pauseGates, state, events, clock, gatekeeper, logger })
  gatekeeper.start()
  t.teardown(() => {
    runner.stop()
    gatekeeper.stop()
  })
  await runner.start()
  for (let i = 0; i < 200; i++) gatekeeper.answered(Y, 500, 1)
  clock.advance(1000)
  await settle()
  t.match(state.current, { y: 10, locked: false, rollout: { step: 0, status: 'paused' } })
  t.match(
    events.since().find((e) => e.type === 'rollout.paused'),
    { cause: 'gate', reason: /^gate max_error_rate/ },
  )
})

t.test('after a restart a running rollout goes on at its step with its hold afresh', async (t) => {
  const progress: RolloutProgress = { steps: plan!.steps, step: 1, status: 'running', started_at: '2025-12-31T23:00:00.000Z' }
  const { events, state, runner, run, stop } = setup({ y: 50, rollout: progress })
  t.teardown(stop)
  const d = runner.resumeAfterRestart()
  t.match(d, { step: 1, status: 'running', y: 50, hold_left_ms: 60_000 })
  t.match(
    events.since().find((e) => e.type === 'rollout.restored'),
    { cause: 'startup', step: 1, status: 'running', reason: /hold started afresh/ },
  )
  await run(59_000, 10)
  t.equal(state.current.rollout?.step, 1)
  await run(2000, 10)
  t.equal(state.current.y, 100)
  t.equal(state.current.rollout, null)
})

t.test('after a restart a paused rollout stays paused', async (t) => {
  const progress: RolloutProgress = { steps: plan!.steps, step: 0, status: 'paused', started_at: '2025-12-31T23:00:00.000Z' }
  const { events, state, runner, run, stop } = setup({ y: 10, rollout: progress })
  t.teardown(stop)
  t.match(runner.resumeAfterRestart(), { status: 'paused', hold_left_ms: 60_000 })
  t.match(
    events.since().find((e) => e.type === 'rollout.restored'),
    { status: 'paused' },
  )
  await run(120_000, 10)
  t.match(state.current, { y: 10, rollout: { step: 0, status: 'paused' } })
  await runner.resume()
  await run(61_000, 10)
  t.equal(state.current.rollout?.step, 1)
})

t.test('nothing to resume after a restart without a rollout', (t) => {
  const { runner, clock, stop } = setup()
  t.equal(runner.resumeAfterRestart(), null)
  t.equal(clock.pending, 1)
  stop()
  t.equal(clock.pending, 0)
  t.end()
})

t.test('a hold that ends between ticks ends on time, not at the next tick', async (t) => {
  const { clock, state, gatekeeper, runner, stop } = setup()
  t.teardown(stop)
  await runner.start([{ y: 10, hold: '1500ms' }, { y: 50, hold: '1500ms' }, { y: 100 }])
  const start = clock.now()
  const movedAt: number[] = []
  let step = 0
  // 100 ms at a time, with y traffic enough for the gate at every moment
  while (clock.now() - start < 5000 && state.current.rollout !== null) {
    for (let i = 0; i < 20; i++) {
      gatekeeper.answered(Y, 200, 20)
      gatekeeper.answered(X, 200, 20)
    }
    clock.advance(100)
    await settle()
    const now = state.current.rollout?.step ?? 2
    if (now !== step) {
      movedAt.push(clock.now() - start)
      step = now
    }
  }
  // each hold is 1.5 s: the moves come at 1.5 s and 3 s (ticks are 1 s apart: at 2 s and 4 s before)
  t.same(movedAt, [1500, 3000])
})
