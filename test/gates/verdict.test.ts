import t from 'tap'
import type { Config } from '../../src/config/types.js'
import { differenceInterval, evaluateGates, fmt, wilsonInterval } from '../../src/gates/verdict.js'
import type { WindowFigures } from '../../src/gates/window.js'

const gates: Config['gates'] = { window: 60_000, min_requests: 100, max_error_rate: 0.01, action: 'rollback' }

function fig(requests: number, errors: number, p99_ms = 50): WindowFigures {
  return { requests, errors, error_rate: requests > 0 ? errors / requests : 0, p99_ms }
}

t.test('wilsonInterval', (t) => {
  t.same(wilsonInterval(0, 0), { low: 0, high: 1 })
  const w = wilsonInterval(40, 100)
  t.ok(w.low > 0.30 && w.low < 0.32, `40/100 low ${w.low} (textbook 0.309)`)
  t.ok(w.high > 0.49 && w.high < 0.51, `40/100 high ${w.high} (textbook 0.498)`)
  t.equal(wilsonInterval(0, 10_000).low, 0)
  t.ok(wilsonInterval(100, 100).low > 0.96)
  t.end()
})

t.test('below min_requests there is no verdict, even at 100% errors', (t) => {
  const r = evaluateGates(fig(1000, 0), fig(99, 99), gates)
  t.equal(r.verdict, 'none')
  t.equal(r.reason, null)
  t.ok(r.checks.every((c) => c.verdict === 'none'))
  t.match(r.checks[0].detail, /99 of 100/)
  t.equal(evaluateGates(fig(0, 0), fig(0, 0), gates).verdict, 'none', 'no data is no verdict, never pass')
  t.end()
})

t.test('error rate needs 95% confidence', (t) => {
  const half = { ...gates, max_error_rate: 0.005 }
  t.equal(evaluateGates(fig(0, 0), fig(100, 1), half).verdict, 'pass', '1 in 100 against 0.5% is no fail')
  const r = evaluateGates(fig(0, 0), fig(100, 40), gates)
  t.equal(r.verdict, 'fail', '40 in 100 fails')
  t.equal(r.gate, 'max_error_rate')
  t.match(r.reason, /^error_rate 0\.4 > 0\.01 over 100 requests \(95% lower bound 0\.31\)$/)
  t.equal(evaluateGates(fig(0, 0), fig(10_000, 0), gates).verdict, 'pass', '0 in 10000 passes a 1% limit')
  const issue = evaluateGates(fig(0, 0), fig(412, 34), gates)
  t.equal(issue.verdict, 'fail')
  t.match(issue.reason, /^error_rate 0\.083 > 0\.01 over 412 requests \(95% lower bound 0\.06\d?\)$/)
  t.end()
})

t.test('max_error_rate_over_x: errors x has too are not y\'s fault', (t) => {
  const g = { ...gates, max_error_rate: 0.5, max_error_rate_over_x: 0.005 }
  // a broken URL: 8% errors on both pools
  const shared = evaluateGates(fig(5000, 400), fig(1000, 80), g)
  t.equal(shared.verdict, 'pass')
  const check = shared.checks.find((c) => c.gate === 'max_error_rate_over_x')!
  t.equal(check.verdict, 'pass')
  // y alone at 8%
  const own = evaluateGates(fig(5000, 5), fig(1000, 80), g)
  t.equal(own.verdict, 'fail')
  t.equal(own.gate, 'max_error_rate_over_x')
  t.match(own.reason, /^error_rate_over_x 0\.079 > 0\.005 \(y 0\.08 over 1000 requests, x 0\.001 over 5000; 95% lower bound 0\.06\d*\)$/)
  // a small excess on small samples is not a verdict
  t.equal(evaluateGates(fig(200, 2), fig(100, 3), g).verdict, 'pass')
  // x takes no traffic (y 100%): this check has no verdict, the others still judge
  const alone = evaluateGates(fig(0, 0), fig(1000, 80), g)
  t.equal(alone.checks.find((c) => c.gate === 'max_error_rate_over_x')!.verdict, 'none')
  t.equal(alone.verdict, 'pass')
  t.end()
})

t.test('differenceInterval brackets the difference', (t) => {
  const d = differenceInterval(80, 1000, 5, 5000)
  t.ok(d.low < 0.079 && d.high > 0.079)
  t.ok(d.low > 0.05)
  const same = differenceInterval(80, 1000, 400, 5000)
  t.ok(same.low < 0 && same.high > 0)
  t.end()
})

t.test('max_p99_ms', (t) => {
  const g = { ...gates, max_p99_ms: 1000 }
  const slow = evaluateGates(fig(0, 0), fig(200, 0, 1520.4), g)
  t.equal(slow.verdict, 'fail')
  t.equal(slow.gate, 'max_p99_ms')
  t.equal(slow.reason, 'p99_ms 1520 > 1000 over 200 requests')
  t.equal(evaluateGates(fig(0, 0), fig(200, 0, 999), g).verdict, 'pass')
  const both = evaluateGates(fig(0, 0), fig(200, 100, 2000), g)
  t.equal(both.checks.filter((c) => c.verdict === 'fail').length, 2, 'every failing check is listed')
  t.match(both.reason, /error_rate .*; p99_ms 2000 > 1000/)
  t.end()
})

t.test('fmt', (t) => {
  t.equal(fmt(0.0825), '0.083')
  t.equal(fmt(0), '0')
  t.equal(fmt(0.00123), '0.0012')
  t.equal(fmt(2.8e-17), '0', 'floating-point dust is 0, not 2.8e-17')
  t.equal(fmt(-1.4e-17), '0')
  t.end()
})
