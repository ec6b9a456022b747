// Does the gate keep its promise when it looks every second for a whole rollout (issue 18)?
// Each row: seeded one-hour runs of y at 50 req/s through the real Gatekeeper (window 60 s,
// min_requests 100, max_error_rate 0.01, risk 0.05; evaluated every second and on the
// error fast path, as in production) on a fake clock, and the first second at which its
// verdict is fail. "before" is the rule shipped until issue 18 on the same traffic, looked
// at once a second as ../shared/gate-sim/flap.mjs does: n >= min_requests and the 95%
// Wilson lower bound above the limit, or the window's p99 above max_p99_ms.
// Error rows: y answers in 10 ms and fails with the row's probability. Latency rows add
// max_p99_ms 1000 (the risk is then split between two gates); y never fails and answers
// in a lognormal time (sigma 0.5) whose true p99 is the row's multiple of the limit.
// x takes no traffic: these gates do not look at it.
//
// Late rows: 50.5 minutes at 0.5%, then 3% or 40%; times count from the break.
//
//   npm run build && node bench/gate-flap.mjs [--runs 200] [--seconds 3600] [--only errors|latency|late]
import { parseArgs } from 'node:util'
import pino from 'pino'
import { FakeClock, seededRandom } from '../dist/clock.js'
import { Gatekeeper } from '../dist/gates/gatekeeper.js'
import { StateController } from '../dist/state/controller.js'
import { EventLog } from '../dist/state/events.js'

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '200' }, seconds: { type: 'string', default: '3600' }, only: { type: 'string' } },
})
const RUNS = Number(args.runs)
const SECONDS = Number(args.seconds)
const RATE = 50
const GATES = { window: 60_000, min_requests: 100, max_error_rate: 0.01, risk: 0.05, action: 'rollback' }
const P99_LIMIT = 1000
const SIGMA = 0.5
const Z99 = 2.3263478740408408
const Y = { pool: 'y', name: 'y1' }
const logger = pino({ level: 'silent' })

/** The rule shipped before issue 18 (src/gates/verdict.ts at a44cf91), for the "before" column. */
function wilsonLow(errors, n, z = 1.96) {
  if (n <= 0) return 0
  const p = errors / n
  const z2 = z * z
  const denom = 1 + z2 / n
  return Math.max(0, (p + z2 / (2 * n)) / denom - (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom)
}
function failedBefore(y, gates) {
  if (y.requests < gates.min_requests) return false
  return wilsonLow(y.errors, y.requests) > gates.max_error_rate || (gates.max_p99_ms !== undefined && y.p99_ms > gates.max_p99_ms)
}

/** One hour of y: the second of the first fail, before and after; -1 for none. */
function run(row, seed) {
  const random = seededRandom(seed)
  const clock = new FakeClock(0)
  const events = new EventLog(clock)
  const state = new StateController({ y: 10, locked: false, lock_reason: null, rollout: null }, { save: async () => {} }, events)
  const gates = row.gates
  const gk = new Gatekeeper({ gates, state, events, clock, logger })
  gk.start()
  let after = -1
  let before = -1
  const median = row.p99 === undefined ? 10 : (row.p99 * P99_LIMIT) / Math.exp(Z99 * SIGMA)
  const step = 1000 / RATE
  for (let t = 0; t < SECONDS && (after < 0 || before < 0); t++) {
    for (let k = 0; k < RATE; k++) {
      clock.advance(step) // the tick at each whole second evaluates, as in production
      const failed = random() < (row.breakAt !== undefined && t >= row.breakAt ? row.errorsAfter : row.errors)
      const ms = row.p99 === undefined ? 10 : median * Math.exp(SIGMA * gaussian(random))
      gk.answered(Y, failed ? 500 : 200, ms)
      if (after < 0 && gk.verdict().verdict === 'fail') after = t
    }
    // the old rule on the window as the last evaluation saw it (the tick at the end of this second)
    if (before < 0 && failedBefore(gk.verdict().y, gates)) before = t
  }
  gk.stop()
  return { after, before }
}

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

const errorRows = [0.5, 0.8, 1, 1.5, 3].map((m) => ({ label: `error rate ${m * GATES.max_error_rate * 100}% (${m}x)`, errors: m * GATES.max_error_rate, gates: GATES }))
const latencyRows = [0.8, 0.95, 1, 1.2, 1.5, 3].map((m) => ({ label: `p99 ${m * P99_LIMIT} ms (${m}x)`, errors: 0, p99: m, gates: { ...GATES, max_p99_ms: P99_LIMIT } }))
// a y that breaks late: 50.5 minutes at half the limit (not on a window boundary), then worse
const lateRows = [0.03, 0.4].map((after) => ({ label: `0.5%, then ${after * 100}% from 50m30s`, errors: 0.005, breakAt: 3030, errorsAfter: after, gates: GATES }))
const rows = { errors: errorRows, latency: latencyRows, late: lateRows }[args.only] ?? [...errorRows, ...latencyRows, ...lateRows]

/** times: the second of each run's first fail or -1; a late row counts from its break. */
function summary(times, breakAt = 0) {
  const early = times.filter((t) => t >= 0 && t < breakAt).length
  const hit = times
    .filter((t) => t >= breakAt)
    .map((t) => t - breakAt)
    .sort((a, b) => a - b)
  const rolled = `${hit.length} of ${times.length}${early > 0 ? ` (and ${early} before the break)` : ''}`
  if (hit.length === 0) return `${rolled} | —`
  const median = hit[Math.floor((hit.length - 1) / 2)]
  const p90 = hit[Math.floor(0.9 * (hit.length - 1))]
  return `${rolled} | ${median} s (${p90} s)`
}

console.log(`${RUNS} runs of ${SECONDS} s per row, y at ${RATE} req/s, window 60 s, min_requests 100, max_error_rate 0.01, risk 0.05`)
console.log('| y | before: rolled back | median time (90th pct) | after: rolled back | median time (90th pct) |')
console.log('| --- | --- | --- | --- | --- |')
for (const row of rows) {
  const started = performance.now()
  const results = Array.from({ length: RUNS }, (_, i) => run(row, (i + 1) * 7919))
  const b = summary(
    results.map((r) => r.before),
    row.breakAt,
  )
  const a = summary(
    results.map((r) => r.after),
    row.breakAt,
  )
  console.log(`| ${row.label} | ${b} | ${a} |`)
  console.error(`  (${row.label}: ${((performance.now() - started) / 1000).toFixed(1)} s)`)
}
