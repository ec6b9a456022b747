import t from 'tap'
import { nextAction, type PlanInput } from '../../src/rollout/plan.js'
import type { RolloutProgress } from '../../src/state/types.js'

const progress: RolloutProgress = {
  steps: [
    { y: 10, hold: 60_000 },
    { y: 50, hold: 60_000 },
    { y: 100, hold: 0 },
  ],
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
  // 37 requests in the 60 s of the step: 63 more take about 102 s at that rate
  t.same(nextAction({ ...base, stepRequests: 37 }), {
    kind: 'hold',
    why: 'traffic',
    hold_left_ms: 0,
    holding: 'y has 37 of the 100 requests a step needs; at the current rate that takes about 1 min 43 s',
    waiting: { requests: 37, needed: 100, eta_ms: 102_162 },
  })
  t.match(nextAction({ ...base, stepRequests: 0 }), { holding: 'y has 0 of the 100 requests a step needs; y has had no requests in this step yet', waiting: { eta_ms: null } })
  t.same(nextAction({ ...base, verdict: 'none', windowRequests: 60 }), {
    kind: 'hold',
    why: 'traffic',
    hold_left_ms: 0,
    holding: "the gate's window has 60 of the 100 y requests a verdict needs; at the current rate that takes about 5 s",
    waiting: { requests: 60, needed: 100, eta_ms: 4800 },
  })
  t.match(nextAction({ ...base, verdict: 'fail' }), { kind: 'hold', why: 'gate' })
  // enough requests, no verdict: a figure over its limit without confidence holds the step
  t.same(nextAction({ ...base, verdict: 'none', windowRequests: 300 }), { kind: 'hold', why: 'gate', hold_left_ms: 0, holding: 'a gate figure is over its limit, not yet with confidence' })
  t.end()
})

t.test('paused holds whatever the figures', (t) => {
  t.match(nextAction({ ...base, progress: { ...progress, status: 'paused' } }), { kind: 'hold', why: 'paused' })
  t.end()
})

t.test('the last step without a hold finishes at once; with a hold it is judged too', (t) => {
  const last = { ...progress, step: 2 }
  t.same(nextAction({ ...base, progress: last, now: 0, stepRequests: 0, verdict: 'none' }), { kind: 'finish' })
  const held = {
    ...progress,
    steps: [
      { y: 10, hold: 1000 },
      { y: 100, hold: 1000 },
    ],
    step: 1,
  }
  t.match(nextAction({ ...base, progress: held, now: 1000, stepRequests: 5 }), { kind: 'hold', why: 'traffic' })
  t.same(nextAction({ ...base, progress: held, now: 1000 }), { kind: 'finish' })
  t.end()
})

t.test('a step at y 0 has no traffic to wait for', (t) => {
  const zero = {
    ...progress,
    steps: [
      { y: 0, hold: 1000 },
      { y: 100, hold: 0 },
    ],
  }
  t.same(nextAction({ ...base, progress: zero, now: 1000, stepRequests: 0, verdict: 'none' }), { kind: 'advance', step: 1 })
  t.end()
})
