import t from 'tap'
import { nextAction, type PlanInput } from '../../src/rollout/plan.js'
import type { RolloutProgress } from '../../src/state/types.js'

const progress: RolloutProgress = {
  steps: [{ y: 10, hold: 60_000 }, { y: 50, hold: 60_000 }, { y: 100, hold: 0 }],
  step: 0,
  status: 'running',
  started_at: '2026-01-01T00:00:00.000Z',
}
const base: PlanInput = { progress, stepStartedAt: 0, now: 60_000, stepRequests: 500, verdict: 'pass', windowRequests: 500, minRequests: 100 }

t.test('holds until the hold has passed', (t) => {
  t.same(nextAction({ ...base, now: 59_000 }), { kind: 'hold', why: 'hold', hold_left_ms: 1000, holding: null })
  t.same(nextAction(base), { kind: 'advance', step: 1 })
  t.end()
})

t.test('then waits for traffic and a pass verdict', (t) => {
  t.same(nextAction({ ...base, stepRequests: 37 }), { kind: 'hold', why: 'traffic', hold_left_ms: 0, holding: '37 of 100 requests' })
  t.same(nextAction({ ...base, verdict: 'none', windowRequests: 60 }), { kind: 'hold', why: 'traffic', hold_left_ms: 0, holding: '60 of 100 requests' })
  t.match(nextAction({ ...base, verdict: 'fail' }), { kind: 'hold', why: 'gate' })
  t.end()
})

t.test('paused holds whatever the figures', (t) => {
  t.match(nextAction({ ...base, progress: { ...progress, status: 'paused' } }), { kind: 'hold', why: 'paused' })
  t.end()
})

t.test('the last step without a hold finishes at once; with a hold it is judged too', (t) => {
  const last = { ...progress, step: 2 }
  t.same(nextAction({ ...base, progress: last, now: 0, stepRequests: 0, verdict: 'none' }), { kind: 'finish' })
  const held = { ...progress, steps: [{ y: 10, hold: 1000 }, { y: 100, hold: 1000 }], step: 1 }
  t.match(nextAction({ ...base, progress: held, now: 1000, stepRequests: 5 }), { kind: 'hold', why: 'traffic' })
  t.same(nextAction({ ...base, progress: held, now: 1000 }), { kind: 'finish' })
  t.end()
})

t.test('a step at y 0 has no traffic to wait for', (t) => {
  const zero = { ...progress, steps: [{ y: 0, hold: 1000 }, { y: 100, hold: 0 }] }
  t.same(nextAction({ ...base, progress: zero, now: 1000, stepRequests: 0, verdict: 'none' }), { kind: 'advance', step: 1 })
  t.end()
})
