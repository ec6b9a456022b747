import t from 'tap'
import { AnalysisGuard } from '../../src/analysis/rollout-guard.js'
import type { HookCall } from '../../src/analysis/hooks.js'
import { FakeClock } from '../../src/clock.js'
import type { AnalysisConfig } from '../../src/config/analysis.js'
import type { Config } from '../../src/config/types.js'
import { ShadowResults } from '../../src/shadow/results.js'
import type { RolloutProgress } from '../../src/state/types.js'

const r: RolloutProgress = {
  steps: [
    { y: 0, hold: 1000 },
    { y: 50, hold: 1000 },
    { y: 100, hold: 0 },
  ],
  step: 0,
  status: 'running',
  started_at: '2026-01-01T00:00:00.000Z',
}
const gates = { window: 60_000, min_requests: 4, max_error_rate: 0.01, risk: 0.05, action: 'rollback', max_shadow_mismatch_rate: 0.25 } as unknown as Config['gates']

function guard(options: { hooks?: Partial<AnalysisConfig['hooks']>; answers?: Array<string | null>; drift?: string | null; prom?: string | null } = {}) {
  const clock = new FakeClock()
  const shadow = new ShadowResults({ clock })
  const calls: HookCall[] = []
  const answers = [...(options.answers ?? [])]
  const analysis: AnalysisConfig = { queries: [], hooks: { timeout: 1000, retry: 5000, ...options.hooks } }
  const g = new AnalysisGuard({
    analysis: () => analysis,
    gates: () => gates,
    driftRefusal: () => options.drift ?? null,
    promHolding: () => options.prom ?? null,
    shadow,
    clock,
    callHook: async (_url, call) => {
      calls.push(call)
      return answers.shift() ?? null
    },
  })
  return { g, clock, shadow, calls }
}

const mismatch = { method: 'GET', route: '/a', target: '/a', requestHeaders: [], xStatus: 200, yStatus: 500, differences: ['status 200 -> 500'] }

t.test('the first step holds until enough shadow answers agree, counted from the rollout start', async (t) => {
  const { g, shadow } = guard()
  shadow.mismatch(mismatch) // before the rollout: not counted
  t.equal(await g.beforeMove(r, null, 0), null)
  t.equal(g.holding(r), 'shadow: 0 of the 4 compared answers the first step needs')
  shadow.mismatch(mismatch)
  for (let i = 0; i < 3; i++) shadow.count('match')
  t.equal(g.holding(r), null, '1 of 4 disagree: 0.25 is not above 0.25')
  shadow.mismatch(mismatch)
  t.match(g.holding(r), /shadow: y disagrees with x on 2 of 5 answers \(0.4 > max_shadow_mismatch_rate 0.25\)/)
  t.equal(g.holding({ ...r, step: 1 }), null, 'only the first step')
  shadow.count('error')
  shadow.drop('timeout')
  t.match(g.holding(r), /2 of 5/, 'errors and drops are not comparisons')
})

t.test('drift refuses a start unless forced; PromQL holds any step', async (t) => {
  const { g } = guard({ drift: 'x and y serve different configs', prom: 'e: no verdict' })
  t.equal(g.startRefusal(false), 'x and y serve different configs')
  t.equal(g.startRefusal(true), null)
  t.equal(g.holding({ ...r, step: 1 }), 'PromQL: e: no verdict')
})

t.test('hooks: before_step before each step, after_hold once a step’s hold is over; a no holds until the retry', async (t) => {
  const { g, clock, calls } = guard({ hooks: { before_step: 'http://h/b', after_hold: 'http://h/a' }, answers: [null, 'after_hold hook answered 500: no', null, null] })
  t.equal(await g.beforeMove(r, null, 0), null)
  t.equal(await g.beforeMove(r, 0, 1), 'after_hold hook answered 500: no')
  t.equal(g.holding({ ...r, step: 1 }), 'after_hold hook answered 500: no')
  clock.advance(4999)
  t.equal(g.holding({ ...r, step: 1 }), 'after_hold hook answered 500: no')
  clock.advance(1)
  t.equal(g.holding({ ...r, step: 1 }), null, 'asked again after hooks.retry')
  t.equal(await g.beforeMove(r, 0, 1), null)
  t.equal(await g.beforeMove(r, 1, null), null)
  t.same(
    calls.map((c) => `${c.phase} ${c.step} ${c.y}`),
    ['before_step 0 0', 'after_hold 0 0', 'after_hold 0 0', 'before_step 1 50', 'after_hold 1 50'],
  )
  t.match(g.lastHook, { phase: 'after_hold', step: 1, ok: true })
})
