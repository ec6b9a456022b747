/** Human-readable rendering of control API answers for `cutover ctl`. Pure: data in, text out. */

type Obj = Record<string, unknown>

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null ? (v as Obj) : {}
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** 1234567 ms → "20m34s"; null → "-". */
export function formatMs(ms: unknown): string {
  const n = num(ms)
  if (n === null) return '-'
  if (n < 1000) return `${Math.round(n)}ms`
  const s = Math.round(n / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** A bar of `width` cells: x's share as █, y's as ░. */
export function splitBar(y: number, width = 40): string {
  const yCells = Math.round((y / 100) * width)
  return `${'█'.repeat(width - yCells)}${'░'.repeat(yCells)}`
}

function pct(v: unknown): string {
  const n = num(v)
  return n === null ? '-' : `${(n * 100).toFixed(n < 0.01 && n > 0 ? 2 : 1)}%`
}

function poolFigures(name: string, g: Obj): string {
  const requests = num(g.requests) ?? 0
  return `${name}: ${requests} req, ${num(g.errors) ?? 0} errors (${pct(g.error_rate)}), p99 ${num(g.p99_ms) === null ? '-' : `${Math.round(num(g.p99_ms)!)}ms`}`
}

/** The rollout line(s), or null when none runs. */
export function formatRollout(rollout: unknown): string | null {
  if (!rollout || typeof rollout !== 'object') return null
  const r = obj(rollout)
  const steps = Array.isArray(r.steps) ? r.steps.map((s) => `${obj(s).y}%`).join(' → ') : '?'
  const step = num(r.step)
  const total = Array.isArray(r.steps) ? r.steps.length : 0
  let line = `rollout  ${String(r.status ?? '?')}, step ${step === null ? '?' : step + 1}/${total} (${steps})`
  if (num(r.hold_left_ms) !== null) line += `, hold ${formatMs(r.hold_left_ms)} left`
  if (r.holding) line += `, holding: ${String(r.holding)}`
  return line
}

/** `ctl status`: split bar, lock, rollout, gate figures, node summary. */
export function formatStatus(state: unknown): string {
  const s = obj(state)
  const split = obj(s.split)
  const y = num(split.y) ?? 0
  const x = num(split.x) ?? 100 - y
  const lines = [`split    x ${x}% ${splitBar(y)} y ${y}%`]
  lines.push(s.locked ? `locked   yes: ${String(s.lock_reason ?? '')}  (cutover ctl unlock to clear)` : 'locked   no')
  lines.push(formatRollout(s.rollout) ?? 'rollout  none')
  const gates = obj(s.gates)
  if (Object.keys(gates).length) {
    lines.push(`gates    verdict ${String(gates.verdict ?? 'none')}`)
    lines.push(`         ${poolFigures('y', obj(gates.y))}`)
    lines.push(`         ${poolFigures('x', obj(gates.x))}`)
    if (Array.isArray(gates.checks)) for (const c of gates.checks) {
      const check = obj(c)
      lines.push(`         ${String(check.gate)}: ${String(check.verdict)}${check.detail ? ` (${String(check.detail)})` : ''}`)
    }
  }
  const pools = obj(s.pools)
  for (const pool of ['x', 'y']) {
    const nodes = Array.isArray(obj(pools[pool]).nodes) ? (obj(pools[pool]).nodes as unknown[]) : []
    const usable = nodes.filter((n) => obj(n).healthy !== false && !obj(n).ejected).length
    lines.push(`pool ${pool}   ${usable}/${nodes.length} nodes usable`)
  }
  return lines.join('\n')
}

/** `ctl nodes`: one row per node. */
export function formatNodes(state: unknown): string {
  const pools = obj(obj(state).pools)
  const rows: string[][] = [['POOL', 'NODE', 'HEALTH', 'EJECTED', 'INFLIGHT', 'LAST PROBE']]
  for (const pool of ['x', 'y']) {
    const nodes = Array.isArray(obj(pools[pool]).nodes) ? (obj(pools[pool]).nodes as unknown[]) : []
    for (const n of nodes) {
      const node = obj(n)
      const probe = obj(node.last_probe)
      const health = node.healthy === true ? 'healthy' : node.healthy === false ? 'UNHEALTHY' : 'unknown'
      const ejected = node.ejected ? `until ${String(node.ejected_until ?? '?')}` : 'no'
      const last = node.last_probe ? `${probe.ok ? 'ok' : 'failed'}${probe.error ? `: ${String(probe.error)}` : probe.status ? ` ${String(probe.status)}` : ''}` : '-'
      rows.push([pool, String(node.url ?? node.name ?? '?'), health, ejected, String(node.inflight ?? 0), last])
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** One event per line: id, time, type, and its details. */
export function formatEvent(event: unknown): string {
  const e = obj(event)
  const { id, at, type, ...details } = e
  const rest = Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (v.includes(' ') ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ')
  return `${String(id).padStart(5)}  ${String(at)}  ${String(type)}${rest ? `  ${rest}` : ''}`
}
