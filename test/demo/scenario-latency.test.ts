import t from 'tap'
import { DEMO_CLAIMS } from '../../src/demo/banner.js'
import { ctl, nextEvent, startDemoLikeCli } from './scenario.js'

t.test('--y-latency 300ms: the p99 gate rolls y back by itself, and again during a rollout', async (t) => {
  const started = Date.now()
  const demo = await startDemoLikeCli(['--y-latency', '300ms'])
  t.teardown(() => demo.close())
  const isGateRollback = (e: { type: string; cause?: unknown }) => e.type === 'rollback' && e.cause === 'gate'

  const first = await nextEvent(demo, 0, isGateRollback, started, DEMO_CLAIMS.rollbackWithinS * 1000, 'a gate rollback without a rollout')
  t.comment(`rollback without a rollout ${(first.ms / 1000).toFixed(1)} s after start: ${String(first.event.reason)}`)
  t.match(first.event.reason, /^gate max_p99_ms: p99_ms \d+ > 250/)

  t.equal((await ctl(demo, 'unlock')).code, 0)
  const since = demo.cutover.events.lastId
  const startedPlan = Date.now()
  t.equal((await ctl(demo, 'rollout', 'start')).code, 0)
  const second = await nextEvent(demo, since, isGateRollback, startedPlan, DEMO_CLAIMS.rollbackWithinS * 1000, 'a gate rollback during the rollout')
  t.comment(`rollback during the rollout ${(second.ms / 1000).toFixed(1)} s after ctl rollout start: ${String(second.event.reason)}`)
  t.match(second.event, { rollout_stopped: true })
  t.match(demo.cutover.state.current, { y: 0, locked: true, rollout: null })
})
