import t from 'tap'
import { timeUniformLower } from '../../src/gates/confidence-sequence.js'
import { evaluateGates, fmt, fmtEvidence, roughDuration, spanRisk } from '../../src/gates/verdict.js'
import type { Span, WindowFigures } from '../../src/gates/window.js'
import { testGates } from '../helpers/fixtures.js'

const gates = testGates()

/** Window figures only: the verdict takes the window for y's whole history. */
function fig(requests: number, errors: number, p99_ms = 50, answered = requests - errors, slow = 0): WindowFigures {
  return { requests, errors, error_rate: requests > 0 ? errors / requests : 0, p99_ms, answered, slow }
}

function span(start: number, ms: number, requests: number, errors: number, answered = requests - errors, slow = 0): Span {
  return { start, ms, requests, errors, answered, slow }
}

t.test('fail fast: a confident failure fails at any volume; passing still needs min_requests', (t) => {
  const six = evaluateGates(fig(0, 0), fig(15, 6), gates)
  t.equal(six.verdict, 'fail', '6 errors in 15 fail a 1% gate')
  t.match(six.reason, /^error_rate 0\.4 > 0\.01 over 15 requests \(95% lower bound 0\.0[89]\d*\) in the window; evidence over a million >= 27 needed \(time-uniform\)$/)
  const one = evaluateGates(fig(0, 0), fig(15, 1), gates)
  t.equal(one.verdict, 'none', '1 error in 15 is no verdict')
  t.equal(one.reason, null)
  t.match(one.checks[0].detail, /^too few y requests: 15 of 100; error_rate 0\.067 > 0\.01, not yet with confidence, over 15 requests/)
  t.equal(evaluateGates(fig(0, 0), fig(99, 99), gates).verdict, 'fail', '99 of 99 failing: no need to wait for the 100th')
  t.equal(evaluateGates(fig(0, 0), fig(99, 0), gates).verdict, 'none', 'a clean y below min_requests does not pass')
  t.equal(evaluateGates(fig(0, 0), fig(0, 0), gates).verdict, 'none', 'no data is no verdict, never pass')
  // a 5% gate, as in the demo (issue 16): 6 of 15 fail, 1 of 15 waits
  const demo = { ...gates, max_error_rate: 0.05, min_requests: 30 }
  t.equal(evaluateGates(fig(0, 0), fig(15, 6), demo).verdict, 'fail')
  t.equal(evaluateGates(fig(0, 0), fig(15, 1), demo).verdict, 'none')
  t.end()
})

t.test('the README worked example', (t) => {
  const rows: Array<[number, number, string]> = [
    [15, 1, 'none'],
    [15, 6, 'fail'],
    [30, 2, 'none'],
    [30, 4, 'fail'],
    [30, 9, 'fail'],
    [37, 3, 'none'],
    [100, 1, 'pass'],
    [100, 3, 'none'],
    [412, 34, 'fail'],
  ]
  for (const [n, e, verdict] of rows) t.equal(evaluateGates(fig(0, 0), fig(n, e), gates).verdict, verdict, `${e} errors in ${n}`)
  // with max_p99_ms 1000 too: [answers, p99 of the window, answers slower than 1 s, verdict]
  const p99Rows: Array<[number, number, number, string]> = [
    [15, 1200, 1, 'none'],
    [15, 3000, 4, 'fail'],
    [30, 400, 0, 'none'],
    [200, 1520, 3, 'none'],
    [200, 1300, 9, 'fail'],
  ]
  for (const [n, p99, slow, verdict] of p99Rows) {
    t.equal(evaluateGates(fig(0, 0), fig(n, 0, p99, n, slow), { ...gates, max_p99_ms: 1000 }).verdict, verdict, `${slow} of ${n} answers slower than 1 s`)
  }
  const issue = evaluateGates(fig(0, 0), fig(412, 34), gates)
  t.match(issue.reason, /^error_rate 0\.083 > 0\.01 over 412 requests \(95% lower bound 0\.048\) in the window; evidence over a million >= 27 needed \(time-uniform\)$/)
  t.ok(Math.abs(issue.checks[0].threshold - 1 / (0.05 * 0.75)) < 1e-9, 'threshold 1 / (3/4 of the risk)')
  t.ok(issue.checks[0].bound > 0.047 && issue.checks[0].bound < 0.049, `bound ${issue.checks[0].bound}`)
  t.end()
})

t.test('error rate: the existing cases', (t) => {
  const half = { ...gates, max_error_rate: 0.005 }
  // was pass: 1 in 100 is above a 0.5% limit without confidence, so a step now holds
  t.equal(evaluateGates(fig(0, 0), fig(100, 1), half).verdict, 'none', '1 in 100 against 0.5% is no fail')
  const r = evaluateGates(fig(0, 0), fig(100, 40), gates)
  t.equal(r.verdict, 'fail', '40 in 100 fails')
  t.equal(r.gate, 'max_error_rate')
  t.match(r.reason, /^error_rate 0\.4 > 0\.01 over 100 requests \(95% lower bound 0\.2\d*\)/)
  const clean = evaluateGates(fig(0, 0), fig(10_000, 0), gates)
  t.equal(clean.verdict, 'pass', '0 in 10000 passes a 1% limit')
  t.match(clean.checks[0].detail, /^error_rate 0 within 0\.01 over 10000 requests in the window; 95% lower bound 0 over the 10000 requests in the window; evidence 0 of 27 needed/)
  t.end()
})

t.test('the risk sets the threshold', (t) => {
  // 6 errors in 100 against 1%: evidence between 1/0.0375 and 1/0.0075
  const g = (risk: number) => ({ ...gates, risk })
  const e = evaluateGates(fig(0, 0), fig(100, 6), g(0.05)).checks[0].evidence
  t.ok(e > 27 && e < 133, `evidence ${e}`)
  t.equal(evaluateGates(fig(0, 0), fig(100, 6), g(0.05)).verdict, 'fail')
  t.equal(evaluateGates(fig(0, 0), fig(100, 6), g(0.01)).verdict, 'none')
  t.match(evaluateGates(fig(0, 0), fig(100, 40), g(0.01)).reason, /\(99% lower bound /)
  t.match(
    evaluateGates(fig(0, 0), fig(100, 40), { window: 60_000, min_requests: 100, max_error_rate: 0.01, grpc_failures: gates.grpc_failures, action: 'rollback' }).reason,
    /\(95% lower bound /,
    'risk 0.05 when none is given',
  )
  t.end()
})

t.test('spans: since y took traffic, and the recent ones for a y that breaks late', (t) => {
  // 50 minutes at 0.5% then a minute and a half at 10%: the cumulative rate is still ~0.8%
  const since = span(0, 3_090_000, 154_500, 750 + 450)
  const recent = span(50, 90_000, 4500, 450)
  const y: WindowFigures = { ...fig(3000, 300), spans: [since, span(49, 150_000, 7500, 465), recent] }
  const r = evaluateGates(fig(0, 0), y, gates)
  t.equal(r.verdict, 'fail')
  t.match(r.reason, /^error_rate 0\.1 > 0\.01 over 4500 requests \(95% lower bound 0\.07\d*\) in the last 90s; evidence over a million >= 204000 needed/)
  t.ok(Math.abs(r.checks[0].threshold - 1 / spanRisk(0.05, 1, 50)) < 1e-6, 'the 50th span spends 1/(50*51) of a quarter of the risk')
  const cumulativeOnly = evaluateGates(fig(0, 0), { ...y, spans: [since] }, gates)
  t.equal(cumulativeOnly.checks[0].verdict, 'none', 'the cumulative count alone has not seen it yet (the window holds the step)')
  t.match(cumulativeOnly.checks[0].detail, /over the 154500 requests since y took traffic 52m ago/)
  t.end()
})

t.test('spanRisk shares add up to the risk, however long y runs', (t) => {
  for (const gatesCount of [1, 2, 3]) {
    let sum = 0
    for (let j = 0; j <= 1_000_000; j++) sum += spanRisk(0.05, gatesCount, j)
    t.ok(sum <= 0.05 / gatesCount + 1e-12, `${gatesCount} gates: ${sum}`)
    t.ok(sum > 0.05 / gatesCount - 1e-6)
  }
  t.end()
})

t.test('property: never passes below min_requests; never fails while the bound is within the limit', (t) => {
  let fails = 0
  let passes = 0
  for (let n = 0; n <= 400; n += n < 60 ? 1 : 7) {
    for (let e = 0; e <= n; e += e < 20 ? 1 : Math.max(1, Math.floor(n / 15))) {
      for (const limit of [0.001, 0.01, 0.05, 0.2]) {
        const g = { ...gates, max_error_rate: limit }
        const r = evaluateGates(fig(0, 0), fig(n, e), g)
        const bound = timeUniformLower(e, n, spanRisk(0.05, 1, 0))
        if (n < g.min_requests && r.verdict === 'pass') t.fail(`passed ${e}/${n} below min_requests`)
        if (bound <= limit * 0.999 && r.verdict === 'fail') t.fail(`failed ${e}/${n} against ${limit} with the bound ${bound} within it`)
        if (bound > limit * 1.001 && r.verdict !== 'fail') t.fail(`did not fail ${e}/${n} against ${limit} with the bound ${bound} above it`)
        if (r.verdict === 'fail') fails++
        if (r.verdict === 'pass') passes++
      }
    }
  }
  t.ok(fails > 100 && passes > 100, `both verdicts seen: ${fails} fails, ${passes} passes`)
  t.end()
})

t.test("max_error_rate_over_x: errors x has too are not y's fault", (t) => {
  const g = { ...gates, max_error_rate: 0.5, max_error_rate_over_x: 0.005 }
  // a broken URL: 8% errors on both pools
  const shared = evaluateGates(fig(5000, 400), fig(1000, 80), g)
  t.equal(shared.verdict, 'pass')
  const check = shared.checks.find((c) => c.gate === 'max_error_rate_over_x')!
  t.equal(check.verdict, 'pass')
  t.ok(check.bound < 0, `the bound of y minus x (${check.bound}) is below 0`)
  // y alone at 8%
  const own = evaluateGates(fig(5000, 5), fig(1000, 80), g)
  t.equal(own.verdict, 'fail')
  t.equal(own.gate, 'max_error_rate_over_x')
  t.match(own.reason, /^error_rate_over_x 0\.079 > 0\.005 \(y 0\.08 over 1000 requests, x 0\.001 over 5000; 95% lower bound 0\.0[45]\d*\) in the window \(time-uniform\)$/)
  // a small excess on small samples is not a verdict: the step holds
  t.equal(evaluateGates(fig(200, 2), fig(100, 3), g).verdict, 'none')
  t.equal(evaluateGates(fig(200, 2), fig(100, 1), g).verdict, 'pass')
  // fail fast here too: 9 of 20 against x's clean 2000
  t.equal(evaluateGates(fig(2000, 0), fig(20, 9), g).verdict, 'fail')
  // x takes no traffic (y 100%): this check has no verdict, the others still judge
  const alone = evaluateGates(fig(0, 0), fig(1000, 8), g)
  t.equal(alone.checks.find((c) => c.gate === 'max_error_rate_over_x')!.verdict, 'none')
  t.equal(alone.verdict, 'pass')
  t.end()
})

t.test('max_p99_ms: more than 1% of answers slower than the limit, with confidence', (t) => {
  const g = { ...gates, max_p99_ms: 1000 }
  // 200 answers, 30 of them slower than 1 s
  const slow = evaluateGates(fig(0, 0), fig(200, 0, 1520.4, 200, 30), g)
  t.equal(slow.verdict, 'fail')
  t.equal(slow.gate, 'max_p99_ms')
  t.match(slow.reason, /^p99_ms 1520 > 1000 over 200 requests; 30 of 200 answers slower than 1000 ms \(95% lower bound \d+(\.\d+)?% of answers, limit 1%\) in the window; evidence/)
  // 3 of 200 slower: the p99 reads over the limit but that is no confidence: hold, no fail
  const few = evaluateGates(fig(0, 0), fig(200, 0, 1520.4, 200, 3), g)
  t.equal(few.verdict, 'none')
  t.match(few.checks[1].detail, /^p99_ms 1520 > 1000, not yet with confidence, over 200 requests in the window/)
  t.equal(evaluateGates(fig(0, 0), fig(200, 0, 999, 200, 1), g).verdict, 'pass')
  // fail fast: 15 answers, all slow
  t.equal(evaluateGates(fig(0, 0), fig(15, 0, 3000, 15, 15), g).verdict, 'fail')
  // 15 answers, one slow: no verdict; 30 with none slow: no pass before min_requests
  t.equal(evaluateGates(fig(0, 0), fig(15, 0, 3000, 15, 1), g).verdict, 'none')
  t.equal(evaluateGates(fig(0, 0), fig(30, 0, 400, 30, 0), g).verdict, 'none')
  const both = evaluateGates(fig(0, 0), fig(200, 100, 2000, 100, 100), g)
  t.equal(both.checks.filter((c) => c.verdict === 'fail').length, 2, 'every failing check is listed')
  t.match(both.reason, /error_rate .*; p99_ms 2000 > 1000/)
  // a y whose attempts all failed has no latency: its error rate judges it
  t.equal(evaluateGates(fig(0, 0), fig(200, 0, 0, 0, 0), g).verdict, 'pass')
  t.end()
})

t.test('figures for people', (t) => {
  t.equal(fmt(0.0825), '0.083')
  t.equal(fmt(0), '0')
  t.equal(fmt(0.00123), '0.0012')
  t.equal(fmt(2.8e-17), '0', 'floating-point dust is 0, not 2.8e-17')
  t.equal(fmt(-1.4e-17), '0')
  t.equal(fmtEvidence(0.3333), '0.33')
  t.equal(fmtEvidence(26.67), '27')
  t.equal(fmtEvidence(2.8e17), 'over a million')
  t.equal(fmtEvidence(Infinity), 'over a million')
  t.equal(roughDuration(400), '1s')
  t.equal(roughDuration(90_000), '90s')
  t.equal(roughDuration(12 * 60_000 + 20_000), '12m')
  t.equal(roughDuration(3_900_000), '65m')
  t.equal(roughDuration(11_100_000), '3h05m')
  t.end()
})
