import t from 'tap'
import { DEMO_CLAIMS } from '../../src/demo/banner.js'
import { DEMO_PLAN } from '../../src/demo/demo-config.js'
import { ctl, nextEvent, startDemoLikeCli } from './scenario.js'

t.test('a healthy y: ctl rollout start walks the whole plan to 100% with no rollback', async (t) => {
  const demo = await startDemoLikeCli([])
  t.teardown(() => demo.close())
  const startedPlan = Date.now()
  const start = await ctl(demo, 'rollout', 'start')
  t.equal(start.code, 0, start.err)
  const done = await nextEvent(demo, 0, (e) => e.type === 'rollout.done' || e.type === 'rollback', startedPlan, DEMO_CLAIMS.planWithinS * 1000, 'the rollout to finish')
  t.comment(`plan walked in ${(done.ms / 1000).toFixed(1)} s after ctl rollout start`)
  t.equal(done.event.type, 'rollout.done', String(done.event.reason ?? ''))
  const steps = demo.cutover.events
    .since(0)
    .filter((e) => e.type === 'rollout.started' || e.type === 'rollout.step')
    .map((e) => e.to)
  t.same(
    steps,
    DEMO_PLAN.map((s) => s.y),
    'every step of the plan, in order',
  )
  t.notOk(
    demo.cutover.events.since(0).some((e) => e.type === 'rollback'),
    'no rollback',
  )
  t.match(demo.cutover.state.current, { y: 100, locked: false, rollout: null })
  const answered = demo.load.totals
  t.equal(answered.errors, 0, 'no client saw an error')
})
