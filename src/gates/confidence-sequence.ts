/**
 * Time-uniform bounds on a rate (errors per request, slow answers per answer), pure: the
 * gate may look after every request, for ever, and a rate at or below the limit still
 * crosses the bound with probability at most the risk, where a fixed-sample bound (Wilson)
 * is wrong at 5% of its looks and so, looked at every second, sooner or later always.
 *
 * The statistic is a mixture of likelihood ratios — Robbins' method of mixtures (Robbins
 * 1970, "Statistical methods related to the law of the iterated logarithm"), with a
 * discrete mixture over a geometric grid of alternatives as in Howard, Ramdas, McAuliffe &
 * Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences" (Annals
 * of Statistics 49(2)); the mixture SPRT behind the always-valid p-values of Johari,
 * Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests". For an alternative rate a above
 * p0, the likelihood ratio (a/p0)^k ((1-a)/(1-p0))^(n-k) of k errors in n requests is a
 * nonnegative supermartingale starting at 1 whenever each request fails with probability
 * at most p0 given the past; so is a weighted sum of them with weights summing to 1, and
 * Ville's inequality gives P(the sum ever reaches 1/risk) <= risk. The weights put most
 * of the mass on alternatives just above p0 (1.25x to 3x), where a quick verdict is hard;
 * a y far above the limit fails in a few requests whatever the weight.
 */

/** alternatives: the null's odds times 1.25^i for i = 1..31 (up to ~1000x) */
const RATIO = 1.25
const ALTERNATIVES = 31
/** weight of alternative i, proportional to i^-1.5 */
const LOG_WEIGHTS = (() => {
  const w = Array.from({ length: ALTERNATIVES }, (_, i) => (i + 1) ** -1.5)
  const sum = w.reduce((a, b) => a + b, 0)
  return Float64Array.from(w, (v) => Math.log(v / sum))
})()
const LOG_RATIOS = Float64Array.from({ length: ALTERNATIVES }, (_, i) => (i + 1) * Math.log(RATIO))
const RATIOS = Float64Array.from(LOG_RATIOS, Math.exp)
/** scratch for the terms of one sum: the gate's evaluations run one at a time */
const terms = new Float64Array(ALTERNATIVES)

/**
 * The log of the evidence that the rate is above p0, from k events in n trials: the
 * mixture likelihood ratio. Ever reaching log(1/risk) has probability at most risk when
 * the rate is at or below p0 (0 < p0 < 1).
 */
export function logEvidenceAbove(k: number, n: number, p0: number): number {
  if (n <= 0) return 0
  if (!(p0 > 0)) return k > 0 ? Infinity : 0
  if (!(p0 < 1)) return -Infinity
  const odds = p0 / (1 - p0)
  const logOdds = Math.log(odds)
  const logP0 = Math.log(p0)
  const log1mP0 = Math.log1p(-p0)
  const m = n - k
  let max = -Infinity
  for (let i = 0; i < ALTERNATIVES; i++) {
    // the alternative a has odds(a) = odds(p0) * RATIO^(i+1); l = log(1 + odds(a)) = -log(1 - a)
    const l = Math.log1p(odds * RATIOS[i])
    const v = LOG_WEIGHTS[i] + k * (logOdds + LOG_RATIOS[i] - l - logP0) + m * (-l - log1mP0)
    terms[i] = v
    if (v > max) max = v
  }
  if (max === -Infinity || max === Infinity) return max
  let sum = 0
  for (let i = 0; i < ALTERNATIVES; i++) sum += Math.exp(terms[i] - max)
  return max + Math.log(sum)
}

const BISECTIONS = 14

/**
 * The time-uniform lower confidence bound of a rate from k events in n trials at this
 * risk: the smallest p0 whose evidence stays below 1/risk. Rounded down (never
 * overstated), to about 0.1%; 0 without events.
 */
export function timeUniformLower(k: number, n: number, risk: number): number {
  if (n <= 0 || k <= 0) return 0
  const threshold = Math.log(1 / risk)
  let hi = k / n // at the observed rate the evidence is at most 1: never excluded
  if (hi >= 1) hi = 1 - 1e-12
  // bisect on a log scale between hi/1e6 (below: reads 0) and hi
  let lo = hi * 1e-6
  if (logEvidenceAbove(k, n, lo) < threshold) return 0
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = Math.sqrt(lo * hi)
    if (logEvidenceAbove(k, n, mid) >= threshold) lo = mid
    else hi = mid
  }
  return lo
}

/**
 * The time-uniform upper confidence bound: the largest p0 whose evidence that the rate is
 * below it stays below 1/risk (the same mixture, for the non-events). Rounded up (never
 * understated), to about 0.2%; 1 when every trial was an event.
 */
export function timeUniformUpper(k: number, n: number, risk: number): number {
  if (n <= 0 || k >= n) return 1
  const threshold = Math.log(1 / risk)
  const below = (q: number): number => logEvidenceAbove(n - k, n, 1 - q)
  let lo = Math.max(k / n, 1e-12) // at the observed rate the evidence is at most 1
  let hi = 1 - 1e-12
  if (below(hi) < threshold) return 1
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = Math.sqrt(lo * hi)
    if (below(mid) >= threshold) hi = mid
    else lo = mid
  }
  return hi
}
