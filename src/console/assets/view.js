// @ts-check
/**
 * What the console shows, decided without the DOM: API answers in, texts and figures out.
 * app.js only puts them on the page, so these rules are tested in Node
 * (test/console/view.test.ts) and the page cannot contradict itself: after a gate
 * rollback the gates panel shows the verdict that caused it, a pool without traffic has
 * no "now" figure, a waiting rollout says why in the API's words.
 */

import { clockTime, duration, errorRate, latency, share, stepOf } from './figures.js'

/**
 * @typedef {import('../../control/api-types.js').StateView} StateView
 * @typedef {import('../../control/api-types.js').RolloutView} RolloutView
 * @typedef {import('../../control/api-types.js').GatesView} GatesView
 * @typedef {import('../../control/api-types.js').GateCheckView} GateCheckView
 * @typedef {import('../../control/api-types.js').WindowView} WindowView
 * @typedef {import('../../control/api-types.js').EventView} EventView
 * @typedef {import('../../control/api-types.js').NodeView} NodeView
 * @typedef {import('../../control/api-types.js').HistoryView} HistoryView
 * @typedef {import('../../control/api-types.js').HistoryPointView} HistoryPointView
 * @typedef {import('../../control/api-types.js').Verdict} Verdict
 * @typedef {import('../../control/api-types.js').PoolName} PoolName
 * @typedef {import('../../control/api-types.js').FleetView} FleetView
 * @typedef {import('../../control/api-types.js').ReplicaView} ReplicaView
 */

/**
 * @typedef {object} RolloutText
 * @property {string} status one line: `Running: step 1 of 3, y 10%, 8 s left in this hold.`
 * @property {string | null} holding why it does not move on, in the API's words
 * @property {Array<{ text: string, at: 'done' | 'current' | 'todo' }>} steps
 */

/** @param {StateView} s @returns {RolloutText} */
export function rolloutText(s) {
  const r = s.rollout
  if (!r) return { status: s.locked ? 'No rollout running. Unlock the split before starting one.' : 'No rollout running.', holding: null, steps: [] }
  const n = r.steps.length
  let line = `${r.status === 'running' ? 'Running' : 'Paused'}: ${stepOf(r.step, n)}, y ${share(r.y)}`
  const last = r.step >= n - 1
  if (r.hold_left_ms > 0 && !last) line += r.status === 'running' ? `, ${duration(r.hold_left_ms)} left in this hold` : `, ${duration(r.hold_left_ms)} of the hold left when resumed`
  const steps = r.steps.map((step, i) => ({
    text: `${i + 1}. y ${share(step.y)}${step.hold ? `, hold ${duration(step.hold)}` : ''}`,
    at: /** @type {'done' | 'current' | 'todo'} */ (i < r.step ? 'done' : i === r.step ? 'current' : 'todo'),
  }))
  return { status: `${line}.`, holding: r.holding ? `Not moving on yet: ${r.holding}.` : null, steps }
}

/**
 * @typedef {object} GateRow
 * @property {'x' | 'y'} pool
 * @property {string} requests
 * @property {string} errors
 * @property {string} rate
 * @property {string} p99
 */

/**
 * @typedef {object} GatesText
 * @property {Verdict} verdict
 * @property {string} pill
 * @property {string} caption what the figures are
 * @property {GateRow[]} rows
 * @property {string[]} checks
 */

/** @param {'x' | 'y'} pool @param {WindowView | undefined} f @returns {GateRow} */
function row(pool, f) {
  if (!f) return { pool, requests: '-', errors: '-', rate: '-', p99: '-' }
  return { pool, requests: String(f.requests), errors: String(f.errors), rate: f.requests > 0 ? errorRate(f.error_rate) : '-', p99: f.requests > 0 && f.p99_ms > 0 ? latency(f.p99_ms) : '-' }
}

/** The same words `ctl status` prints for a check. @param {GateCheckView} c */
export function checkText(c) {
  return `${c.gate}: ${c.verdict === 'none' ? 'no verdict' : c.verdict}, ${c.detail}`
}

/**
 * The gates panel. While the split is locked by a gate rollback, the verdict that caused
 * it (from its event): the live window was emptied by the rollback and says nothing.
 * @param {StateView} s
 * @param {EventView | null} rollback the latest rollback event seen
 * @returns {GatesText}
 */
export function gatesText(s, rollback) {
  const g = s.gates
  if (s.locked && rollback && rollback.cause === 'gate') {
    const figures = /** @type {{ x?: WindowView, y?: WindowView } | undefined} */ (rollback.figures)
    const checks = Array.isArray(rollback.checks) ? /** @type {GateCheckView[]} */ (rollback.checks) : []
    const failing = checks.filter((c) => c && c.verdict === 'fail').map(checkText)
    return {
      verdict: 'fail',
      pill: 'failed: rolled back',
      caption: `The gate rolled y back to x at ${clockTime(rollback.at)}. Its window then:`,
      rows: [row('x', figures?.x), row('y', figures?.y)],
      checks: failing.length ? failing : [String(rollback.reason ?? s.lock_reason ?? 'gate failed')],
    }
  }
  if (s.locked) {
    return { verdict: 'none', pill: 'no verdict', caption: 'No verdict: y has had no traffic since the rollback. The window now:', rows: [row('x', g?.x), row('y', g?.y)], checks: [] }
  }
  const verdict = g?.verdict ?? 'none'
  return {
    verdict,
    pill: verdict === 'pass' ? 'gates pass' : verdict === 'fail' ? 'gates fail' : 'no verdict yet',
    caption: 'In the gate window:',
    rows: [row('x', g?.x), row('y', g?.y)],
    checks: (g?.checks ?? []).map(checkText),
  }
}

/** What an action's success message depends on: when this changes, the message is old news. @param {StateView} s */
export function stateSignature(s) {
  return JSON.stringify([s.split.y, s.locked, s.rollout ? [s.rollout.started_at, s.rollout.step, s.rollout.status] : null])
}

/** @param {NodeView} n @returns {[string, string]} a key for the colour and the words */
export function nodeHealth(n) {
  if (n.ejected) return ['ejected', `ejected${n.ejected_until ? ` until ${clockTime(n.ejected_until)}` : ''}`]
  if (n.healthy === true) return ['healthy', 'healthy']
  if (n.healthy === false) return ['unhealthy', 'unhealthy']
  return ['unknown', 'no probe verdict yet']
}

/**
 * The node's last failed request attempt, short for its cell, whole for its title; `—` and
 * null when it has none. @param {NodeView} n @returns {[string, string | null]}
 */
export function lastFailureText(n) {
  const f = n.last_failure
  if (!f) return ['—', null]
  const words = `${clockTime(f.at)} ${f.kind}: ${f.why}`
  return [words.length > 60 ? `${words.slice(0, 59)}…` : words, words]
}

const BAD = /^(rollback|rollback\.shared|gate\.failed|node\.unhealthy|node\.ejected|state\.unreadable|state\.invalid|fleet\.invalid|config\.reload_refused|rollout\.paused)$/
const GOOD = /^(node\.healthy|node\.returned|rollout\.done|unlock)$/

/** @param {string} type @returns {'bad' | 'good' | 'plain'} */
export function eventTone(type) {
  return BAD.test(type) ? 'bad' : GOOD.test(type) ? 'good' : 'plain'
}

/** Charts show at least this many slots (30 s of 5 s slots), and no more of the past than has traffic. */
export const MIN_SLOTS = 6

/**
 * @typedef {object} ChartRange
 * @property {number} start first slot shown
 * @property {number} now the slot whose figures are "now"
 * @property {string} since the left axis label: `2 min ago`
 */

/**
 * Which slots a chart shows: from the first with traffic (at least MIN_SLOTS back) to now,
 * so a few minutes of history fill the chart instead of its right-hand corner. The slot
 * that began under 2 s ago says little yet: "now" is the one before it.
 * @param {HistoryView} h
 * @returns {ChartRange}
 */
export function chartRange(h) {
  const px = h.pools.x
  const py = h.pools.y
  const n = Math.max(px.length, py.length)
  const last = px[px.length - 1] ?? py[py.length - 1]
  const now = Math.max(0, last && h.now - last.t < 2000 ? n - 2 : n - 1)
  let first = now
  for (let i = 0; i <= now; i++) {
    if (px[i]?.error_rate != null || py[i]?.error_rate != null) {
      first = i
      break
    }
  }
  const start = Math.max(0, Math.min(first, now - MIN_SLOTS + 1))
  return { start, now, since: `${duration((now - start + 1) * h.slot_ms)} ago` }
}

/**
 * A pool's "now" figure, or null when the pool has no traffic now: a pool without traffic
 * has no error rate or latency, and an old figure would mislead. "Now" is the slot
 * chartRange chose; the slot being filled counts too once it has run a second, or at once
 * when the pool's share is 0 (after a rollback y's last figures are history).
 * @param {HistoryView} h
 * @param {PoolName} pool
 * @param {number} now the slot chartRange chose
 * @param {'requests_per_s' | 'error_rate' | 'p99_ms'} key
 * @param {number} share the pool's share of traffic now, 0..100
 * @returns {number | null}
 */
export function nowFigure(h, pool, now, key, share) {
  const points = h.pools[pool]
  const p = points[now]
  if (!p || p.error_rate === null) return null
  const filling = points[points.length - 1]
  if (filling && filling !== p && filling.error_rate === null && (h.now - filling.t >= 1000 || share === 0)) return null
  return p[key]
}

/**
 * @typedef {object} ReplicaRow
 * @property {string} id
 * @property {boolean} leader
 * @property {string} control its control address
 * @property {string} seen when this replica last heard from it, local time
 * @property {string} x its own x traffic since it started
 * @property {string} y its own y traffic since it started
 * @property {string} nodes its own view of the nodes: `2 of 2 usable`, `1 of 2 usable (not y:y1)`
 * @property {boolean} healthy every node usable as it sees them
 */

/**
 * @typedef {object} FleetText
 * @property {string} summary one line: how many replicas, which leads, the store's health, who answered
 * @property {boolean} backendUp
 * @property {ReplicaRow[]} rows
 */

/** @param {{ requests: number, errors: number }} t */
function trafficText(t) {
  return `${t.requests} req, ${t.errors} err (${errorRate(t.requests > 0 ? t.errors / t.requests : null)})`
}

/**
 * Issue 11: the replicas panel, one row per replica of a fleet; null with the file
 * backend (no fleet section in the state), so the panel stays hidden.
 * @param {StateView} s @returns {FleetText | null}
 */
export function fleetText(s) {
  const f = s.fleet
  if (!f) return null
  const n = f.replicas.length
  const backend = f.backend.up ? 'etcd up' : `etcd DOWN (${f.backend.reason ?? 'no answer'}): every replica routes at the last known split; changes are refused`
  const leader = f.leader === null ? 'no leader yet' : `${f.leader} leads`
  return {
    summary: `${n} replica${n === 1 ? '' : 's'}, ${leader}; ${backend}. This page is served by ${f.replica_id}.`,
    backendUp: f.backend.up,
    rows: f.replicas.map((r) => {
      const unusable = r.nodes.filter((node) => !node.usable).map((node) => `${node.pool}:${node.name}`)
      return {
        id: r.id,
        leader: r.leader,
        control: r.control,
        seen: clockTime(r.last_seen),
        x: trafficText(r.traffic.x),
        y: trafficText(r.traffic.y),
        nodes: `${r.nodes.length - unusable.length} of ${r.nodes.length} usable${unusable.length ? ` (not ${unusable.join(', ')})` : ''}`,
        healthy: unusable.length === 0,
      }
    }),
  }
}
