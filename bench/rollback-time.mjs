// How long a gate rollback takes (issue 4's figure): "from the moment y starts failing at
// 10%, 50% and 100% error rates, at 1,000 requests per second". A paced client sends GETs
// through cutover to one x node and one y node; after a healthy warm-up y starts answering
// 500 to a seeded share of its requests, and the time to the `rollback` event is taken
// in-process (EventLog.subscribe). Gates are config/cutover.yaml's: window 60s,
// min_requests 100, max_error_rate 0.01, max_error_rate_over_x 0.005, max_p99_ms 1000.
// cutover runs in this process from ../dist (build with `npx tsc -p .`), on 127.0.0.1.
//
//   node bench/rollback-time.mjs [--share 50,10] [--rates 0.1,0.5,1] [--rate 1000] [--warmup 10]
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { seededRandom } from '../dist/clock.js'
import { pacedGets, sleep, startInProcess, textTable, until } from './in-process.mjs'

const GATES = `gates:
  window: 60s
  min_requests: 100
  max_error_rate: 0.01
  max_error_rate_over_x: 0.005
  max_p99_ms: 1000
  action: rollback
`
const OK_BODY = Buffer.alloc(100, 'a')
const ERROR_BODY = Buffer.from('{"message":"An unexpected error occurred"}')
/** give up on a rollback after this long */
const CAP_MS = 60_000

/** An upstream on 127.0.0.1:0; `failRate()` is the share of requests it answers 500 to, now. */
async function upstream(name, failRate, random) {
  const server = createServer((req, res) => {
    req.resume()
    if (random() < failRate()) {
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(ERROR_BODY.length), 'x-upstream': name })
      res.end(ERROR_BODY)
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100', 'x-upstream': name })
    res.end(OK_BODY)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((r) => {
        server.close(() => r())
        server.closeAllConnections()
      }),
  }
}

/** The paced load, counting 5xx answers and failed requests. */
function pacedLoad(origin, rate) {
  const counts = { errors: 0, failures: 0 }
  const load = pacedGets(origin, rate, 128, (status, err) => {
    if (err) counts.failures++
    else if (status >= 500) counts.errors++
  })
  return Object.assign(load, { counts })
}

/** One run: y at `share`%, healthy for warmupMs, then failing at `errorRate`; returns the row. */
export async function measureRollback({ share, errorRate, rate, warmupMs, seed = 1 }) {
  let failing = 0
  const x = await upstream('x1', () => 0, seededRandom(seed))
  const y = await upstream('y1', () => failing, seededRandom(seed + 1))
  const { cutover, origin } = await startInProcess(
    'rollback',
    `pools:
  x: { nodes: [${x.url}] }
  y: { nodes: [${y.url}] }
split: { y: ${share} }
log: { level: silent }
${GATES}`,
  )
  let rollback = null
  let rollbackAt = 0
  cutover.events.subscribe((e) => {
    if (e.type === 'rollback' && rollback === null) {
      rollback = e
      rollbackAt = performance.now()
    }
  })
  const load = pacedLoad(origin, rate)
  try {
    await sleep(warmupMs)
    const before = { sent: load.sent, errors: load.counts.errors }
    const early = rollback
    failing = errorRate
    const switchedAt = performance.now()
    await until(() => rollback !== null, CAP_MS)
    const y = rollback?.figures?.y
    return {
      share,
      error_rate: errorRate,
      warmup_s: warmupMs / 1000,
      rollback_ms: rollback && !early ? Math.round(rollbackAt - switchedAt) : null,
      y_requests: y ? y.requests : null,
      y_errors: y ? y.errors : null,
      client_errors: load.counts.errors - before.errors,
      sent: load.sent - before.sent,
      late_ms: Math.round(load.lateMs),
      reason: early ? `rolled back during the warm-up: ${early.reason}` : rollback ? String(rollback.reason) : `no rollback within ${CAP_MS} ms`,
    }
  } finally {
    await load.stop()
    await cutover.close()
    await Promise.all([x.close(), y.close()])
  }
}

function table(rows) {
  const head = ['y share', 'error rate', 'warm-up', 'time to rollback', 'y requests (errors) in window', 'client 5xx', 'reason']
  return textTable(
    head,
    rows.map((r) => [
      `${r.share}%`,
      `${r.error_rate * 100}%`,
      `${r.warmup_s} s`,
      r.rollback_ms === null ? '—' : `${r.rollback_ms} ms`,
      r.y_requests === null ? '—' : `${r.y_requests} (${r.y_errors})`,
      String(r.client_errors),
      r.reason,
    ]),
  )
}

async function main() {
  const { values } = parseArgs({
    options: {
      share: { type: 'string', default: '50,10' },
      rates: { type: 'string', default: '0.1,0.5,1' },
      rate: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '10' },
    },
  })
  const rows = []
  for (const share of values.share.split(',').map(Number)) {
    for (const errorRate of values.rates.split(',').map(Number)) {
      process.stderr.write(`rollback-time: y at ${share}%, y failing ${errorRate * 100}%, ${values.rate} req/s, ${values.warmup} s healthy first\n`)
      const row = await measureRollback({ share, errorRate, rate: Number(values.rate), warmupMs: Number(values.warmup) * 1000 })
      if (row.late_ms > 100) process.stderr.write(`  note: the client fell up to ${row.late_ms} ms behind its schedule\n`)
      rows.push(row)
    }
  }
  console.log(table(rows))
  console.log(`\n${values.rate} req/s GETs; gates of config/cutover.yaml (window 60s, min_requests 100, max_error_rate 0.01, max_error_rate_over_x 0.005, max_p99_ms 1000);`)
  console.log('time from y starting to fail to the rollback event; window figures as the gate saw them at the verdict; client 5xx = y errors clients got before it')
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
