/**
 * How a figure reads, wherever cutover shows one to a person: `ctl`, the demo's terminal,
 * event sentences and webhook text. The console's copy (src/console/assets/figures.js)
 * must give the same text for the same number; test/console/figures.test.ts compares them.
 */

/** A share of traffic (0..100, at most two decimals): `12.5%`. */
export function share(y: number): string {
  return `${Math.round(y * 100) / 100}%`
}

/** An error rate (0..1) as a percentage: `8.3%`, `0.12%`, `0%`; two decimals below 1%. */
export function errorRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '-'
  const pct = rate * 100
  if (pct === 0) return '0%'
  return pct >= 1 ? `${Math.round(pct * 10) / 10}%` : `${Math.round(pct * 100) / 100}%`
}

/** A latency: `422 ms`, `12.5 ms`; '-' when there is none. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-'
  return `${ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10} ms`
}

/** A duration, rounded up to whole seconds: `8 s`, `1 min 30 s`, `2 h 5 min`. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`
  return `${s} s`
}

/** A rollout step for people, counted from 1: `step 2 of 3`; `of` may be unknown. */
export function stepOf(index: number, of?: number): string {
  return typeof of === 'number' ? `step ${index + 1} of ${of}` : `step ${index + 1}`
}

/** An ISO time as the local wall clock, `14:03:09`; the text itself when it is no time. */
export function clockTime(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}
