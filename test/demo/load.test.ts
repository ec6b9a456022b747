import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { FakeClock, seededRandom } from '../../src/clock.js'
import { formatSummary, startLoad } from '../../src/demo/load.js'

/** A stand-in for the proxy: records x-consumer-id, answers as Kong 3.4.2, or 503 on /payments, or never when hold is set. */
async function upstream(t: { teardown(fn: () => unknown): void }, hold = false) {
  const consumers: string[] = []
  const server = http.createServer((req, res) => {
    consumers.push(String(req.headers['x-consumer-id']))
    if (hold) return
    res.setHeader('server', 'kong/3.4.2')
    res.statusCode = req.url?.startsWith('/payments') ? 503 : 200
    res.end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, consumers }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

t.test('formatSummary: rate, shares in label order, errors', async (t) => {
  const counts = {
    answered: 100,
    errors: 3,
    skipped: 0,
    byVersion: new Map([
      ['3.9.1', 10],
      ['3.4.2', 90],
    ]),
  }
  t.equal(formatSummary(counts, 5000, { '3.4.2': 'x', '3.9.1': 'y' }), 'traffic: 20 req/s  x 3.4.2: 90%  y 3.9.1: 10%  errors: 3')
  const odd = {
    answered: 3,
    errors: 1,
    skipped: 2,
    byVersion: new Map([
      ['1.0', 1],
      ['3.4.2', 2],
    ]),
  }
  t.equal(formatSummary(odd, 5000, { '3.4.2': 'x', '3.9.1': 'y' }), 'traffic: 0.6 req/s  x 3.4.2: 67%  1.0: 33%  errors: 1  skipped: 2')
  t.equal(formatSummary({ answered: 0, errors: 0, skipped: 0, byVersion: new Map() }, 0, {}), 'traffic: 0 req/s  errors: 0')
})

t.test('sends rps requests per second from many consumers and counts versions', async (t) => {
  const up = await upstream(t)
  const clock = new FakeClock()
  const load = startLoad({ url: up.url, rps: 20, clock, random: seededRandom(7) })
  t.teardown(() => load.close())
  clock.advance(1000)
  // answered counts every answer, the 503s included; errors is a subset of it
  await until(() => load.totals.answered >= 20, '20 answers')
  t.equal(up.consumers.length, 20, 'exactly rps requests in one second')
  t.ok(
    up.consumers.every((c) => /^consumer-\d{3}$/.test(c)),
    'every request names a consumer',
  )
  t.ok(new Set(up.consumers).size >= 15, 'consumers are spread over the pool')
  t.equal(load.totals.answered, 20)
  const errors = load.totals.errors
  t.equal(load.totals.byVersion.get('3.4.2'), 20)
  t.ok(errors > 0 && errors < 20, `503s count as errors (${errors})`)
  clock.advance(500)
  await until(() => load.totals.answered >= 30, '30 answers')
  t.equal(up.consumers.length, 30, 'keeps the rate: 10 more in half a second')
})

t.test('a fractional rate accumulates across ticks', async (t) => {
  const up = await upstream(t)
  const clock = new FakeClock()
  const load = startLoad({ url: up.url, rps: 2.5, clock })
  t.teardown(() => load.close())
  clock.advance(2000)
  await until(() => load.totals.answered >= 5, '5 answers')
  t.equal(up.consumers.length, 5)
})

t.test('summary every period, over that period only', async (t) => {
  const up = await upstream(t)
  const clock = new FakeClock()
  const lines: string[] = []
  const load = startLoad({ url: up.url, rps: 20, clock, summaryEveryMs: 1000, summary: (l) => lines.push(l), labels: { '3.4.2': 'x' }, random: seededRandom(1) })
  t.teardown(() => load.close())
  clock.advance(500)
  await until(() => load.totals.answered >= 10, '10 answers')
  const errors = load.totals.errors
  clock.advance(500)
  t.equal(lines.length, 1)
  // 10 answered in the 1000 ms period; the tick at 1000 ms sent 2 more not yet answered
  t.equal(lines[0], `traffic: 10 req/s  x 3.4.2: 100%  errors: ${errors}`)
  await until(() => load.totals.answered >= 12, '12 answers')
  clock.advance(1000)
  t.equal(lines.length, 2)
  t.match(lines[1], /^traffic: \d+ req\/s/)
})

t.test('bounded in flight: a tick that finds them busy skips; close drops them', async (t) => {
  const up = await upstream(t, true)
  const clock = new FakeClock()
  const load = startLoad({ url: up.url, rps: 20, maxInflight: 4, clock })
  clock.advance(1000)
  await until(() => up.consumers.length >= 4, '4 requests held')
  t.equal(load.totals.skipped, 16)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(up.consumers.length, 4, 'never more than maxInflight')
  const start = performance.now()
  await load.close()
  t.ok(performance.now() - start < 1000, 'close does not wait for held requests')
  t.equal(clock.pending, 0, 'no timers left')
  t.equal(load.totals.errors, 0, 'requests dropped by close are not errors')
})

t.test('rps 0 sends nothing', async (t) => {
  const up = await upstream(t)
  const clock = new FakeClock()
  const load = startLoad({ url: up.url, rps: 0, clock })
  clock.advance(5000)
  t.equal(clock.pending, 0)
  await load.close()
  t.equal(up.consumers.length, 0)
})
