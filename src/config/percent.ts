/**
 * A share of traffic as SPEC section 2 writes it: a number from 0 to 100 with at most two
 * decimals. One definition for the config, the state file, the API and the command line.
 */

/** True when n has at most two decimals, allowing for binary floating point (0.29 * 100 is 28.999…). */
export function hasAtMostTwoDecimals(n: number): boolean {
  return Math.abs(n * 100 - Math.round(n * 100)) < 1e-7
}

/** x's share for a share of y, rounded to the two decimals shares have (100 - 33.33 is 66.67). */
export function xShare(y: number): number {
  return Math.round((100 - y) * 100) / 100
}

/** A share of y: a finite number from 0 to 100 with at most two decimals. */
export function isPercent(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 && hasAtMostTwoDecimals(v)
}
