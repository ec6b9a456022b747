import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { logEvidenceAbove, timeUniformLower, timeUniformUpper } from '../../src/gates/confidence-sequence.js'

/** The fixed-sample Wilson lower bound (95%), which the time-uniform one must not undercut. */
function wilsonLow(k: number, n: number, z = 1.96): number {
  const p = k / n
  const z2 = z * z
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
}

t.test('evidence: none without events or at the observed rate; more with more events', (t) => {
  t.equal(logEvidenceAbove(0, 0, 0.01), 0)
  t.ok(logEvidenceAbove(0, 1000, 0.01) < 0)
  for (const [k, n] of [
    [1, 100],
    [10, 1000],
    [50, 100],
    [99, 100],
  ])
    t.ok(logEvidenceAbove(k, n, k / n) <= 1e-12, `${k}/${n} at its own rate`)
  let previous = -Infinity
  for (let k = 0; k <= 20; k++) {
    const e = logEvidenceAbove(k, 500, 0.01)
    t.ok(e > previous, `${k} of 500`)
    previous = e
  }
  t.ok(logEvidenceAbove(5, 100, 0.01) > logEvidenceAbove(5, 100, 0.02), 'less evidence against a higher limit')
  t.equal(logEvidenceAbove(3, 10, 0), Infinity)
  t.equal(logEvidenceAbove(3, 10, 1), -Infinity)
  t.end()
})

t.test('bounds bracket the rate and are wider than the fixed-sample ones', (t) => {
  for (const [k, n] of [
    [1, 15],
    [6, 15],
    [34, 412],
    [40, 100],
    [100, 100],
    [5, 5000],
    [800, 100_000],
  ]) {
    const lo = timeUniformLower(k, n, 0.05)
    const hi = timeUniformUpper(k, n, 0.05)
    t.ok(lo <= k / n && k / n <= hi, `${k}/${n}: ${lo} <= ${k / n} <= ${hi}`)
    t.ok(lo < wilsonLow(k, n), `${k}/${n}: below Wilson's ${wilsonLow(k, n)}`)
    // the bound is where the evidence crosses 1/risk
    if (lo > 0) t.ok(logEvidenceAbove(k, n, lo) >= Math.log(20) && logEvidenceAbove(k, n, lo * 1.002) < Math.log(20), `${k}/${n}: at the crossing`)
  }
  t.equal(timeUniformLower(0, 100, 0.05), 0)
  t.equal(timeUniformLower(3, 0, 0.05), 0)
  t.equal(timeUniformUpper(100, 100, 0.05), 1)
  t.equal(timeUniformUpper(0, 0, 0.05), 1)
  t.ok(timeUniformUpper(0, 10_000, 0.05) < 0.001, 'no events in 10000: the rate is below 0.1%')
  t.ok(timeUniformLower(40, 100, 0.01) < timeUniformLower(40, 100, 0.05), 'a smaller risk, a wider bound')
  t.end()
})

t.test('Ville: a rate at the limit, looked at after every request, crosses 1/risk in at most risk of the runs', (t) => {
  // the fixed-sample Wilson bound, looked at as often, crosses in most of them
  const risk = 0.05
  const runs = 300
  const n = 3000
  let crossed = 0
  let wilsonCrossed = 0
  for (let r = 0; r < runs; r++) {
    const random = seededRandom(1000 + r)
    let k = 0
    let hit = false
    let wilsonHit = false
    for (let i = 1; i <= n && !hit; i++) {
      if (random() < 0.01) k++
      if (!wilsonHit && i >= 30 && wilsonLow(k, i) > 0.01) wilsonHit = true
      if (logEvidenceAbove(k, i, 0.01) >= Math.log(1 / risk)) hit = true
    }
    if (hit) crossed++
    if (wilsonHit) wilsonCrossed++
  }
  // binomial(300, 0.05): mean 15, sd 3.8
  t.ok(crossed <= runs * risk + 3 * Math.sqrt(runs * risk * (1 - risk)), `time-uniform: ${crossed} of ${runs}`)
  t.ok(wilsonCrossed > runs * 0.15, `fixed-sample Wilson: ${wilsonCrossed} of ${runs}`)
  t.end()
})
