/**
 * Durations as operators write them (`250ms`, `2s`, `1.5s`, `5m`, `1h`) and back.
 * A unit is mandatory: a bare `30` is ambiguous between seconds and milliseconds.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/

/** Milliseconds of a duration string such as `2s`; undefined for anything else. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined
  const match = DURATION.exec(text.trim())
  if (match === null) return undefined
  const ms = Number(match[1]) * UNIT_MS[match[2]]
  if (!Number.isFinite(ms)) return undefined
  // 1.1 * 1000 is 1100.0000000000002 in floating point; keep microsecond precision only
  return Math.round(ms * 1000) / 1000
}

/** The duration in the largest unit that holds it whole: 250ms, 2s, 90s, 5m, 1h. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return `${ms}ms`
}
