/**
 * What the console shows, without a browser: the rules that keep its panels from
 * contradicting each other (test/console/browser.test.ts sees them on a real page).
 */

import t from 'tap'
import type { EventView, HistoryPointView, HistoryView, StateView } from '../../src/control/api-types.js'
import { fleetView, nodeView, replicaView } from '../helpers/fixtures.js'

type View = typeof import('../../src/console/assets/view.js')
// a URL, not a specifier: the browser module's types are its JSDoc
const view = (await import(new URL('../../src/console/assets/view.js', import.meta.url).href)) as View

const base: StateView = {
  split: { x: 90, y: 10 },
  locked: false,
  lock_reason: null,
  rollout: null,
  pools: { x: { nodes: [] }, y: { nodes: [] } },
  gates: {
    x: { requests: 150, errors: 0, error_rate: 0, p99_ms: 3.2 },
    y: { requests: 15, errors: 0, error_rate: 0, p99_ms: 2.9 },
    verdict: 'none',
    checks: [{ gate: 'max_error_rate', figure: 0, limit: 0.05, verdict: 'none', detail: 'too few y requests: 15 of 30; error_rate 0 within 0.05 over 15 requests (95% lower bound 0)' }],
    evaluated_at: null,
  },
}

const plan = [
  { y: 10, hold: 10_000 },
  { y: 50, hold: 10_000 },
  { y: 100, hold: 0 },
]

const gateRollback: EventView = {
  id: 9,
  at: new Date(2026, 0, 1, 14, 3, 9).toISOString(),
  type: 'rollback',
  cause: 'gate',
  reason: 'gate max_error_rate: error_rate 0.33 > 0.05 over 33 requests (95% lower bound 0.2)',
  from: 10,
  to: 0,
  figures: { x: { requests: 310, errors: 0, error_rate: 0, p99_ms: 3.1 }, y: { requests: 33, errors: 11, error_rate: 0.3333, p99_ms: 2.7 } },
  checks: [
    { gate: 'max_error_rate', figure: 0.3333, limit: 0.05, verdict: 'fail', detail: 'error_rate 0.33 > 0.05 over 33 requests (95% lower bound 0.2)' },
    { gate: 'max_p99_ms', figure: 2.7, limit: 250, verdict: 'pass', detail: 'p99_ms 3 within 250 over 33 requests' },
  ],
}

const rolledBack: StateView = {
  ...base,
  split: { x: 100, y: 0 },
  locked: true,
  lock_reason: String(gateRollback.reason),
  gates: { ...base.gates, y: { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 }, checks: [] },
}

t.test('a waiting rollout says why in the API words, and never "0 s left"', async (t) => {
  const waiting: StateView = {
    ...base,
    rollout: {
      steps: plan,
      step: 0,
      status: 'running',
      y: 10,
      hold_left_ms: 0,
      holding: 'y has 16 of the 30 requests a step needs; at the current rate that takes about 40 s',
      waiting: { requests: 16, needed: 30, eta_ms: 40_000 },
      started_at: 'x',
    },
  }
  const r = view.rolloutText(waiting)
  t.equal(r.status, 'Running: step 1 of 3, y 10%.')
  t.equal(r.holding, 'Not moving on yet: y has 16 of the 30 requests a step needs; at the current rate that takes about 40 s.')
  t.same(r.steps, [
    { text: '1. y 10%, hold 10 s', at: 'current' },
    { text: '2. y 50%, hold 10 s', at: 'todo' },
    { text: '3. y 100%', at: 'todo' },
  ])
  const holding = view.rolloutText({ ...waiting, rollout: { ...waiting.rollout!, step: 1, y: 50, hold_left_ms: 7200, holding: null, waiting: null } })
  t.equal(holding.status, 'Running: step 2 of 3, y 50%, 8 s left in this hold.')
  t.equal(holding.holding, null)
  t.equal(view.rolloutText(rolledBack).status, 'No rollout running. Unlock the split before starting one.')
})

t.test('after a gate rollback the gates panel shows the failed verdict that caused it', async (t) => {
  const g = view.gatesText(rolledBack, gateRollback)
  t.equal(g.verdict, 'fail')
  t.equal(g.pill, 'failed: rolled back')
  t.equal(g.caption, 'The gate rolled y back to x at 14:03:09. Its window then:')
  t.same(g.rows, [
    { pool: 'x', requests: '310', errors: '0', rate: '0%', p99: '3.1 ms' },
    { pool: 'y', requests: '33', errors: '11', rate: '33.3%', p99: '2.7 ms' },
  ])
  t.same(g.checks, ['max_error_rate: fail, error_rate 0.33 > 0.05 over 33 requests (95% lower bound 0.2)'], 'the failing check, in the words ctl prints')
  t.not(g.pill, 'no verdict yet')

  const byHand = view.gatesText({ ...rolledBack, lock_reason: 'trying it' }, { ...gateRollback, cause: 'api', reason: 'trying it' })
  t.equal(byHand.verdict, 'none')
  t.match(byHand.caption, /^No verdict: y has had no traffic since the rollback/)

  const unlocked = view.gatesText({ ...rolledBack, locked: false }, gateRollback)
  t.equal(unlocked.pill, 'no verdict yet', 'unlocked: the live window again')
  t.same(view.gatesText(base, null).checks, ['max_error_rate: no verdict, too few y requests: 15 of 30; error_rate 0 within 0.05 over 15 requests (95% lower bound 0)'])
  t.same(view.gatesText(base, null).rows[1], { pool: 'y', requests: '15', errors: '0', rate: '0%', p99: '2.9 ms' })
})

t.test("an action's success message is tied to the state it spoke of", async (t) => {
  const after = { ...base, split: { x: 50, y: 50 } }
  t.equal(view.stateSignature(after), view.stateSignature({ ...after, gates: rolledBack.gates }), 'gate figures moving do not matter')
  t.not(view.stateSignature(after), view.stateSignature(rolledBack), 'a rollback does: "Split set" goes')
})

function history(points: number, traffic: (i: number) => Partial<Record<'x' | 'y', HistoryPointView>>, nowOffset = 3000): HistoryView {
  const slot = 5000
  const pools: HistoryView['pools'] = { x: [], y: [] }
  for (let i = 0; i < points; i++) {
    const at = traffic(i)
    for (const pool of ['x', 'y'] as const) pools[pool].push(at[pool] ?? { t: i * slot, requests_per_s: 0, error_rate: null, p99_ms: null })
  }
  return { slot_ms: slot, now: (points - 1) * slot + nowOffset, pools }
}

const busy = (t: number, rate = 45): HistoryPointView => ({ t: t * 5000, requests_per_s: rate, error_rate: 0, p99_ms: 3 })

t.test('charts with little history fill the chart instead of a corner', async (t) => {
  const young = history(180, (i) => (i >= 170 ? { x: busy(i) } : {}))
  t.same(view.chartRange(young), { start: 170, now: 179, since: '50 s ago' }, 'from the first traffic')
  const newborn = history(180, (i) => (i >= 178 ? { x: busy(i) } : {}))
  t.same(view.chartRange(newborn), { start: 174, now: 179, since: '30 s ago' }, 'at least 30 s')
  const older = history(180, (i) => (i >= 100 ? { x: busy(i) } : {}))
  t.same(view.chartRange(older), { start: 100, now: 179, since: '6 min 40 s ago' })
  const full = history(180, (i) => ({ x: busy(i) }))
  t.same(view.chartRange(full), { start: 0, now: 179, since: '15 min ago' })
  const fresh = history(180, (i) => ({ x: busy(i) }), 1000)
  t.equal(view.chartRange(fresh).now, 178, 'a slot begun under 2 s ago is not "now" yet')
})

t.test('a pool with no traffic now has no "now" figure, whatever it had before', async (t) => {
  const h = history(180, (i) => (i < 175 ? { x: busy(i), y: { ...busy(i, 5), error_rate: 0.4 } } : { x: busy(i) }))
  const { now } = view.chartRange(h)
  t.equal(view.nowFigure(h, 'x', now, 'requests_per_s', 90), 45)
  t.equal(view.nowFigure(h, 'y', now, 'error_rate', 10), null, "y's last error rate is not now")
  t.equal(view.nowFigure(h, 'y', now, 'requests_per_s', 10), null)
  const busyY = history(180, (i) => ({ x: busy(i), y: { ...busy(i, 5), error_rate: 0.4 } }))
  t.equal(view.nowFigure(busyY, 'y', view.chartRange(busyY).now, 'error_rate', 10), 0.4, 'with traffic: its figure')

  // y had traffic until the slot before the one being filled, which has none so far
  const justNow = history(180, (i) => (i < 179 ? { x: busy(i), y: busy(i, 5) } : { x: busy(i) }), 1500)
  const range = view.chartRange(justNow)
  t.equal(range.now, 178)
  t.equal(view.nowFigure(justNow, 'y', range.now, 'requests_per_s', 10), null, 'the slot being filled has run a second without y')
  const barely = { ...justNow, now: justNow.now - 1000 }
  t.equal(view.chartRange(barely).now, 178)
  t.equal(view.nowFigure(barely, 'y', 178, 'requests_per_s', 10), 5, 'half a second without y says nothing yet')
  t.equal(view.nowFigure(barely, 'y', 178, 'requests_per_s', 0), null, 'unless y has no share: after a rollback its figures are history')
})

t.test('node health and event tones', async (t) => {
  const node = nodeView({ url: 'http://127.0.0.1:1', name: 'kong-y1', healthy: true, ejected: false, ejected_until: null, last_probe: null, inflight: 0 })
  t.same(view.nodeHealth(node), ['healthy', 'healthy'])
  t.same(view.nodeHealth({ ...node, healthy: null }), ['unknown', 'no probe verdict yet'])
  t.equal(view.nodeHealth({ ...node, ejected: true, ejected_until: new Date(2026, 0, 1, 9, 5, 0).toISOString() })[1], 'ejected until 09:05:00')
  t.same(view.lastFailureText(node), ['—', null], 'no failure: a dash')
  const at = new Date(2026, 0, 1, 9, 5, 0).toISOString()
  t.same(view.lastFailureText({ ...node, last_failure: { kind: 'connect', why: 'connect ECONNREFUSED 10.0.0.21:8000', at } }), [
    '09:05:00 connect: connect ECONNREFUSED 10.0.0.21:8000',
    '09:05:00 connect: connect ECONNREFUSED 10.0.0.21:8000',
  ])
  const long = view.lastFailureText({ ...node, last_failure: { kind: 'protocol', why: 'response head refused: Content-Length with Transfer-Encoding', at } })
  t.equal(long[0], '09:05:00 protocol: response head refused: Content-Length wi…', 'cut to 60 characters in the cell')
  t.equal(long[1], '09:05:00 protocol: response head refused: Content-Length with Transfer-Encoding', 'whole in the title')
  t.equal(view.eventTone('rollback'), 'bad')
  t.equal(view.eventTone('state.invalid'), 'bad')
  t.equal(view.eventTone('rollout.done'), 'good')
  t.equal(view.eventTone('split.changed'), 'plain')
})

t.test("the replicas panel (issue 11): one row per replica, the leader marked, each one's own view of the nodes; none without a fleet", async (t) => {
  t.equal(view.fleetText(base), null, 'the file backend: no panel')
  const fleet = fleetView({ replica_id: 'r3', leader: 'r1', replicas: [replicaView('r1', { leader: true }), replicaView('r2', { unusable: ['y1'] })] })
  const f = view.fleetText({ ...base, fleet })
  t.ok(f)
  t.equal(f?.summary, '2 replicas, r1 leads; etcd up. This page is served by r3.')
  t.same(
    f?.rows.map((r) => [r.id, r.leader, r.control, r.x, r.y, r.nodes, r.healthy]),
    [
      ['r1', true, '10.0.0.1:9901', '900 req, 9 err (1%)', '100 req, 0 err (0%)', '2 of 2 usable', true],
      ['r2', false, '10.0.0.2:9901', '900 req, 9 err (1%)', '100 req, 0 err (0%)', '1 of 2 usable (not y:y1)', false],
    ],
  )
  t.match(f?.rows[0].seen, /^\d\d:\d\d:\d\d$/, 'last seen as a local clock time')
  const down = view.fleetText({ ...base, fleet: { ...fleet, leader: null, backend: { ...fleet.backend, up: false, reason: 'deadline exceeded' } } })
  t.equal(down?.backendUp, false)
  t.match(down?.summary, /^2 replicas, no leader yet; etcd DOWN \(deadline exceeded\): every replica routes at the last known split/)
})
