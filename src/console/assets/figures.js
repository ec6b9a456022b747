// @ts-check
/**
 * How a figure reads in the console: the browser's copy of src/control/figures.ts, which
 * `ctl`, the demo and event sentences use. Same number, same text:
 * test/console/figures.test.ts runs both over the same inputs.
 */

/** A share of traffic (0..100, at most two decimals): `12.5%`. @param {number} y */
export function share(y) {
  return `${Math.round(y * 100) / 100}%`
}

/** An error rate (0..1) as a percentage: `8.3%`, `0.12%`, `0%`. @param {number | null | undefined} rate */
export function errorRate(rate) {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '-'
  const pct = rate * 100
  if (pct === 0) return '0%'
  return pct >= 1 ? `${Math.round(pct * 10) / 10}%` : `${Math.round(pct * 100) / 100}%`
}

/** A latency: `422 ms`, `12.5 ms`; '-' when there is none. @param {number | null | undefined} ms */
export function latency(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-'
  return `${ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10} ms`
}

/** A duration, rounded up to whole seconds: `8 s`, `1 min 30 s`, `2 h 5 min`. @param {number} ms */
export function duration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`
  return `${s} s`
}

/** A rollout step for people, counted from 1: `step 2 of 3`. @param {number} index @param {number} [of] */
export function stepOf(index, of) {
  return typeof of === 'number' ? `step ${index + 1} of ${of}` : `step ${index + 1}`
}

/** An ISO time as the local wall clock, `14:03:09`. @param {string} iso */
export function clockTime(iso) {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  /** @param {number} n */
  const two = (n) => String(n).padStart(2, '0')
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}

/** A request rate: `45 req/s`, `2.5 req/s`. @param {number | null | undefined} perSecond */
export function requestRate(perSecond) {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '-'
  return `${perSecond >= 100 ? Math.round(perSecond) : Math.round(perSecond * 10) / 10} req/s`
}
