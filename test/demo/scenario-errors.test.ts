import t from 'tap'
import { DEMO_CLAIMS } from '../../src/demo/banner.js'
import { ctl, nextEvent, startDemoLikeCli } from './scenario.js'

t.test('--y-error-rate 0.3: the gate rolls y back by itself, and again during a rollout', async (t) => {
  const started = Date.now()
  const demo = await startDemoLikeCli(['--y-error-rate', '0.3'])
  t.teardown(() => demo.close())
  const isGateRollback = (e: { type: string; cause?: unknown }) => e.type === 'rollback' && e.cause === 'gate'

  // without a rollout: y starts at 10% and is judged on that share alone
  const first = await nextEvent(demo, 0, isGateRollback, started, DEMO_CLAIMS.rollbackWithinS * 1000, 'a gate rollback without a rollout')
  t.comment(`rollback without a rollout ${(first.ms / 1000).toFixed(1)} s after start: ${String(first.event.reason)}`)
  t.match(first.event.reason, /^gate max_error_rate: error_rate /)
  t.match(demo.cutover.state.current, { y: 0, locked: true })

  // then what the banner says: unlock, start the plan, watch it roll back again
  t.equal((await ctl(demo, 'unlock')).code, 0)
  const since = demo.cutover.events.lastId
  const startedPlan = Date.now()
  const start = await ctl(demo, 'rollout', 'start')
  t.equal(start.code, 0, start.err)
  const second = await nextEvent(demo, since, isGateRollback, startedPlan, DEMO_CLAIMS.rollbackWithinS * 1000, 'a gate rollback during the rollout')
  t.comment(`rollback during the rollout ${(second.ms / 1000).toFixed(1)} s after ctl rollout start: ${String(second.event.reason)}`)
  t.match(second.event, { rollout_stopped: true, from: 10 })
  t.match(demo.cutover.state.current, { y: 0, locked: true, rollout: null })
})
