import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runCtl, type CtlIo } from '../../src/ctl/ctl.js'
import { formatMs, splitBar } from '../../src/ctl/format.js'

const TOKEN = 'ctl-test-token'

const STATE = {
  split: { x: 90, y: 10 },
  locked: false,
  lock_reason: null,
  rollout: { steps: [{ y: 10, hold: 300000 }, { y: 50, hold: 600000 }, { y: 100, hold: 0 }], step: 0, status: 'running', y: 10, hold_left_ms: 252000, holding: null },
  pools: {
    x: { nodes: [{ url: 'http://10.0.0.11:8000', name: '10.0.0.11:8000', healthy: true, ejected: false, ejected_until: null, last_probe: { ok: true, status: 200 }, inflight: 3 }] },
    y: { nodes: [{ url: 'http://10.0.0.21:8000', name: '10.0.0.21:8000', healthy: false, ejected: false, ejected_until: null, last_probe: { ok: false, error: 'connection refused' }, inflight: 0 }] },
  },
  gates: { x: { requests: 900, errors: 1, error_rate: 0.0011, p99_ms: 40 }, y: { requests: 100, errors: 0, error_rate: 0, p99_ms: 55 }, verdict: 'pass', checks: [] },
}

interface Seen {
  method?: string
  url?: string
  auth?: string
  body: string
}

async function fakeApi(t: Tap.Test, respond: (req: IncomingMessage, body: string) => [number, unknown]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body })
      const [status, payload] = respond(req, body)
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(payload))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function capture(env: Record<string, string | undefined> = {}): CtlIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return { stdout, stderr, out: (s) => stdout.push(s), err: (s) => stderr.push(s), env, wait: async () => false }
}

declare namespace Tap {
  type Test = typeof t
}

t.test('status prints the split bar, rollout and gates, with the token from the environment', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['status'], io), 0)
  const out = io.stdout.join('\n')
  t.match(out, /x 90% █+░+ y 10%/)
  t.match(out, /rollout  running, step 1\/3 \(10% → 50% → 100%\), hold 4m12s left/)
  t.match(out, /y: 100 req, 0 errors/)
  t.match(out, /pool y   0\/1 nodes usable/)
  t.equal(api.seen[0].auth, `Bearer ${TOKEN}`)
  t.equal(api.seen[0].url, '/v1/state')
})

t.test('--json prints the raw answer; flags beat the environment', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: 'http://127.0.0.1:1', CUTOVER_TOKEN: 'env' })
  t.equal(await runCtl(['status', '--json', '--url', api.url, '--token', 'flag-token'], io), 0)
  t.same(JSON.parse(io.stdout.join('\n')), STATE)
  t.equal(api.seen[0].auth, 'Bearer flag-token')
})

t.test('nodes prints a table', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url })
  t.equal(await runCtl(['nodes'], io), 0)
  const lines = io.stdout.join('\n').split('\n')
  t.match(lines[0], /^POOL\s+NODE\s+HEALTH/)
  t.match(lines[2], /^y\s+http:\/\/10\.0\.0\.21:8000\s+UNHEALTHY\s+no\s+0\s+failed: connection refused$/)
})

t.test('split, rollback, unlock and rollout send the right calls', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['split', '25.5'], io), 0)
  t.equal(await runCtl(['rollback', '--reason', 'y slow'], io), 0)
  t.equal(await runCtl(['unlock'], io), 0)
  t.equal(await runCtl(['rollout', 'start'], io), 0)
  t.equal(await runCtl(['rollout', 'abort', '--reason', 'enough'], io), 0)
  t.same(
    api.seen.map((s) => [s.method, s.url, s.body]),
    [
      ['PUT', '/v1/split', '{"y":25.5}'],
      ['POST', '/v1/rollback', '{"reason":"y slow"}'],
      ['POST', '/v1/unlock', '{}'],
      ['POST', '/v1/rollout', '{}'],
      ['POST', '/v1/rollout/abort', '{"reason":"enough"}'],
    ],
  )
})

t.test('an API error exits 1 with the server message', async (t) => {
  const api = await fakeApi(t, () => [409, { error: 'split is locked: gate tripped', code: 'CUTOVER_ERR_LOCKED' }])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['split', '50'], io), 1)
  t.match(io.stderr.join('\n'), /PUT \/v1\/split: 409 split is locked: gate tripped/)
})

t.test('an unreachable API is one clear line', async (t) => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const io = capture({ CUTOVER_URL: url })
  t.equal(await runCtl(['status'], io), 1)
  t.equal(io.stderr.length, 1)
  t.match(io.stderr[0], /cannot reach the control API at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
})

t.test('bad usage exits 2 without calling the API', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  for (const argv of [['split', '150'], ['split', '1.234'], ['split'], ['rollout', 'jump'], ['frobnicate'], ['status', '--bogus'], ['events', '--since', '-1'], []]) {
    const io = capture({ CUTOVER_URL: api.url })
    t.equal(await runCtl(argv, io), 2, argv.join(' '))
  }
  t.equal(api.seen.length, 0)
})

t.test('events prints each event once, and follow polls from the last id', async (t) => {
  const list = [
    { id: 1, at: '2026-01-01T00:00:00.000Z', type: 'startup', cause: 'startup' },
    { id: 2, at: '2026-01-01T00:00:01.000Z', type: 'rollback', reason: 'error_rate 0.4 > 0.01' },
  ]
  const api = await fakeApi(t, (req) => [200, req.url === '/v1/events?since=0' ? list : []])
  const io = capture({ CUTOVER_URL: api.url })
  let polls = 0
  io.wait = async () => ++polls < 3
  t.equal(await runCtl(['events', '--follow'], io), 0)
  t.equal(io.stdout.length, 2)
  t.match(io.stdout[1], /^\s+2  2026-01-01T00:00:01.000Z  rollback  reason="error_rate 0.4 > 0.01"$/)
  t.same(api.seen.map((s) => s.url), ['/v1/events?since=0', '/v1/events?since=2', '/v1/events?since=2'])
})

t.test('format helpers', async (t) => {
  t.equal(formatMs(250), '250ms')
  t.equal(formatMs(61_000), '1m01s')
  t.equal(formatMs(3_720_000), '1h02m')
  t.equal(formatMs(null), '-')
  t.equal(splitBar(0, 10), '██████████')
  t.equal(splitBar(100, 10), '░░░░░░░░░░')
  t.equal(splitBar(30, 10), '███████░░░')
})

t.test('split takes any share with two decimals, binary floats included', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url })
  t.equal(await runCtl(['split', '0.29'], io), 0)
  t.equal(await runCtl(['split', '33.33'], io), 0)
  t.same(api.seen.map((s) => s.body), ['{"y":0.29}', '{"y":33.33}'])
})
