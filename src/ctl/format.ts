/**
 * Human-readable rendering of control API answers for `cutover ctl`. Pure: data in, text
 * out. The figures read as everywhere else (src/control/figures.ts), events as the same
 * sentences the console shows (src/notify/event-text.ts).
 */

import type { EventView, FleetView, GatesView, NodeView, PoolName, ReplicaView, RolloutView, StateView, WindowView } from '../control/api-types.js'
import { clockTime, duration, errorRate, latency, share, stepOf } from '../control/figures.js'
import { eventSentence } from '../notify/event-text.js'

/** 1234567 ms → "20 min 35 s"; null → "-". */
export function formatMs(ms: unknown): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? duration(ms) : '-'
}

/** A bar of `width` cells: x's share as █, y's as ░. */
export function splitBar(y: number, width = 40): string {
  const yCells = Math.round((y / 100) * width)
  return `${'█'.repeat(width - yCells)}${'░'.repeat(yCells)}`
}

function poolFigures(name: string, g: WindowView | undefined): string {
  if (!g) return `${name}  -`
  const p99 = g.requests > 0 && g.p99_ms > 0 ? latency(g.p99_ms) : '-'
  return `${name}  ${g.requests} requests, ${g.errors} errors (${errorRate(g.error_rate)}), p99 ${p99}`
}

/** The rollout line(s), or null when none runs. */
export function formatRollout(r: RolloutView | null | undefined): string | null {
  if (!r) return null
  const plan = r.steps.map((s) => share(s.y)).join(' → ')
  let line = `rollout  ${r.status}, ${stepOf(r.step, r.steps.length)} (${plan}), y ${share(r.y)}`
  const last = r.step >= r.steps.length - 1
  if (r.hold_left_ms > 0 && !last) line += r.status === 'paused' ? `, ${duration(r.hold_left_ms)} of the hold left when resumed` : `, hold ${duration(r.hold_left_ms)} left`
  if (r.holding) line += `\n         ${r.holding}`
  return line
}

function formatGates(g: GatesView, locked: boolean): string[] {
  const verdict = g.verdict === 'pass' ? 'pass' : g.verdict === 'fail' ? 'FAIL' : locked ? 'no verdict since the rollback (y has no traffic; the window starts afresh)' : 'no verdict yet'
  const lines = [`gates    ${verdict}`, `         in the window: ${poolFigures('y', g.y)}`, `                        ${poolFigures('x', g.x)}`]
  for (const check of g.checks ?? []) lines.push(`         ${check.gate}: ${check.verdict === 'none' ? 'no verdict' : check.verdict}, ${check.detail}`)
  return lines
}

function replicaTraffic(t: ReplicaView['traffic'][PoolName]): string {
  return `${t.requests} requests, ${t.errors} errors (${errorRate(t.requests > 0 ? t.errors / t.requests : null)})`
}

/** One replica: address, when last heard from, its own traffic, its view of the nodes. */
function replicaLine(r: ReplicaView, idWidth: number): string {
  const unusable = r.nodes.filter((n) => !n.usable).map((n) => `${n.pool}:${n.name}`)
  const nodes = `nodes ${r.nodes.length - unusable.length} of ${r.nodes.length} usable${unusable.length ? ` (not: ${unusable.join(', ')})` : ''}`
  return `         ${r.id.padEnd(idWidth)}  ${r.leader ? 'leads' : '     '}  ${r.control}  seen ${clockTime(r.last_seen)}  x ${replicaTraffic(r.traffic.x)}  y ${replicaTraffic(r.traffic.y)}  ${nodes}`
}

/** The fleet section of `ctl status` (issue 11): the backend, the leader, then one line per replica; none when not a fleet. */
export function formatFleet(f: FleetView | undefined): string[] {
  if (!f) return []
  const n = f.replicas.length
  const backend = f.backend.up ? 'etcd up' : `etcd DOWN (${f.backend.reason ?? 'no answer'}): routing at the last known split, writes refused`
  const lines = [`fleet    ${n} replica${n === 1 ? '' : 's'}, ${f.leader === null ? 'no leader yet' : `${f.leader} leads`}; ${backend}; this answer from ${f.replica_id}`]
  const idWidth = Math.max(0, ...f.replicas.map((r) => r.id.length))
  for (const r of f.replicas) lines.push(replicaLine(r, idWidth))
  return lines
}

/** `ctl status`: split bar, lock, rollout, gate figures, node summary, and a fleet's replicas. */
export function formatStatus(state: unknown): string {
  const s = state as Partial<StateView>
  const y = s.split?.y ?? 0
  const x = s.split?.x ?? 100 - y
  const lines = [`split    x ${share(x)} ${splitBar(y)} y ${share(y)}`]
  lines.push(s.locked ? `locked   yes: ${s.lock_reason ?? 'rolled back'}\n         (npx cutover ctl unlock to clear it)` : 'locked   no')
  lines.push(formatRollout(s.rollout) ?? 'rollout  none')
  if (s.gates) lines.push(...formatGates(s.gates, s.locked === true))
  for (const pool of ['x', 'y'] as const) {
    const nodes = s.pools?.[pool]?.nodes ?? []
    const usable = nodes.filter((n) => n.healthy !== false && !n.ejected)
    lines.push(
      `pool ${pool}   ${usable.length} of ${nodes.length} nodes usable${nodes.length ? `: ${nodes.map((n) => `${n.name}${n.healthy === false ? ' (unhealthy)' : n.ejected ? ' (ejected)' : n.h2_ejected ? ' (h2 ejected)' : ''}`).join(', ')}` : ''}`,
    )
  }
  lines.push(...formatFleet(s.fleet))
  return lines.join('\n')
}

function health(node: NodeView): string {
  return node.healthy === true ? 'healthy' : node.healthy === false ? 'UNHEALTHY' : 'unknown'
}

/** `ctl nodes`: one row per node. */
export function formatNodes(state: unknown): string {
  const s = state as Partial<StateView>
  // issue 14: ADMIN and WEIGHT columns appear once an operator changed some node
  const changed = (['x', 'y'] as const).some((p) => s.pools?.[p]?.nodes.some((n) => (n.admin ?? 'ready') !== 'ready' || n.weight_source === 'runtime'))
  // a LAST FAILURE column once some node's request attempt failed
  const failed = (['x', 'y'] as const).some((p) => s.pools?.[p]?.nodes.some((n) => n.last_failure != null))
  const rows: string[][] = [['POOL', 'NODE', 'URL', ...(changed ? ['ADMIN', 'WEIGHT'] : []), 'HEALTH', 'EJECTED', 'IN FLIGHT', 'LAST PROBE', ...(failed ? ['LAST FAILURE'] : [])]]
  for (const pool of ['x', 'y'] as const) {
    for (const node of s.pools?.[pool]?.nodes ?? []) {
      const probe = node.last_probe
      const ejected = node.ejected
        ? `until ${node.ejected_until ? clockTime(node.ejected_until) : '?'}`
        : node.h2_ejected
          ? `h2 until ${node.h2_ejected_until ? clockTime(node.h2_ejected_until) : '?'}`
          : 'no'
      const last = probe ? `${probe.ok ? 'ok' : 'failed'}${probe.error ? `: ${probe.error}` : probe.status ? ` ${probe.status}` : ''}` : '-'
      // a runtime weight is marked as such: it outlives reloads
      const weight = node.weight === undefined ? '-' : `${node.weight}${node.weight_source === 'runtime' ? ` (runtime; config ${node.config_weight})` : ''}`
      const f = node.last_failure
      const lastFailure = f ? `${clockTime(f.at)} ${f.kind}: ${f.why.length > 80 ? `${f.why.slice(0, 79)}…` : f.why}` : '-'
      rows.push([pool, node.name ?? node.url, node.url, ...(changed ? [node.admin ?? 'ready', weight] : []), health(node), ejected, String(node.inflight ?? 0), last, ...(failed ? [lastFailure] : [])])
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** One event per line: id, local time, the sentence. */
export function formatEvent(event: unknown): string {
  const e = event as EventView
  return `${String(e.id).padStart(5)}  ${clockTime(e.at)}  ${eventSentence(e)}`
}
