import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { runCtl, type CtlIo } from '../../src/ctl/ctl.js'
import type { StateView } from '../../src/control/api-types.js'
import { clockTime } from '../../src/control/figures.js'
import { formatMs, formatStatus, splitBar } from '../../src/ctl/format.js'
import { fleetView, nodeView } from '../helpers/fixtures.js'

const TOKEN = 'ctl-test-token'

const STATE = {
  split: { x: 90, y: 10 },
  locked: false,
  lock_reason: null,
  rollout: {
    steps: [
      { y: 10, hold: 300000 },
      { y: 50, hold: 600000 },
      { y: 100, hold: 0 },
    ],
    step: 0,
    status: 'running',
    y: 10,
    hold_left_ms: 252000,
    holding: null,
    waiting: null,
    started_at: '2026-01-01T00:00:00.000Z',
  },
  pools: {
    x: {
      nodes: [
        nodeView({
          url: 'http://10.0.0.11:8000',
          name: 'kong-x1',
          healthy: true,
          ejected: false,
          ejected_until: null,
          last_probe: { ok: true, at: '2026-01-01T00:00:00.000Z', ms: 2, status: 200 },
          inflight: 3,
        }),
      ],
    },
    y: {
      nodes: [
        nodeView({
          url: 'http://10.0.0.21:8000',
          name: '10.0.0.21:8000',
          healthy: false,
          ejected: false,
          ejected_until: null,
          last_probe: { ok: false, at: '2026-01-01T00:00:00.000Z', ms: 1, error: 'connection refused' },
          inflight: 0,
        }),
      ],
    },
  },
  gates: { x: { requests: 900, errors: 1, error_rate: 0.0011, p99_ms: 40 }, y: { requests: 100, errors: 0, error_rate: 0, p99_ms: 55 }, verdict: 'pass', checks: [], evaluated_at: null },
} satisfies StateView

const WAITING: StateView = {
  ...STATE,
  rollout: { ...STATE.rollout, hold_left_ms: 0, holding: 'y has 16 of the 30 requests a step needs; at the current rate that takes about 40 s', waiting: { requests: 16, needed: 30, eta_ms: 40_000 } },
  gates: {
    ...STATE.gates,
    y: { requests: 15, errors: 0, error_rate: 0, p99_ms: 2.5e-17 + 3.21 },
    verdict: 'none',
    checks: [{ gate: 'max_error_rate', figure: 0, limit: 0.05, verdict: 'none', detail: 'too few y requests: 15 of 30; error_rate 0 within 0.05 over 15 requests (95% lower bound 0)' }],
  },
}

const ROLLED_BACK: StateView = {
  ...STATE,
  split: { x: 100, y: 0 },
  locked: true,
  lock_reason: 'gate max_error_rate: error_rate 0.33 > 0.05 over 33 requests (95% lower bound 0.2)',
  rollout: null,
  gates: { ...STATE.gates, y: { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 }, verdict: 'none' },
}

interface Seen {
  method?: string
  url?: string
  auth?: string
  body: string
}

async function fakeApi(t: Test, respond: (req: IncomingMessage, body: string) => [number, unknown]): Promise<{ url: string; seen: Seen[] }> {
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

t.test('status prints the split bar, rollout and gates, with the token from the environment', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['status'], io), 0)
  const out = io.stdout.join('\n')
  t.match(out, /x 90% █+░+ y 10%/)
  t.match(out, /rollout  running, step 1 of 3 \(10% → 50% → 100%\), y 10%, hold 4 min 12 s left/)
  t.match(out, /in the window: y  100 requests, 0 errors \(0%\), p99 55 ms/)
  t.match(out, /x  900 requests, 1 errors \(0\.11%\), p99 40 ms/)
  t.match(out, /pool x   1 of 1 nodes usable: kong-x1\n/)
  t.match(out, /pool y   0 of 1 nodes usable: 10\.0\.0\.21:8000 \(unhealthy\)/)
  t.equal(api.seen[0].auth, `Bearer ${TOKEN}`)
  t.equal(api.seen[0].url, '/v1/state')
})

t.test('status says why a step waits in the words the API gives, never "hold 0 s left"', async (t) => {
  const out = formatStatus(WAITING)
  t.match(out, /rollout  running, step 1 of 3 \(10% → 50% → 100%\), y 10%\n         y has 16 of the 30 requests a step needs; at the current rate that takes about 40 s\n/)
  t.notMatch(out, /hold .* left/)
  t.match(out, /gates    no verdict yet\n/)
  t.match(out, /in the window: y  15 requests, 0 errors \(0%\), p99 3\.2 ms/)
  t.match(out, /max_error_rate: no verdict, too few y requests: 15 of 30/)
  t.notMatch(out, /e-\d/, 'no exponent notation')
})

t.test('status after a gate rollback: locked with the gate reason, no stale verdict', async (t) => {
  const out = formatStatus(ROLLED_BACK)
  t.match(out, /split    x 100% █{40} y 0%/)
  t.match(out, /locked   yes: gate max_error_rate: error_rate 0\.33 > 0\.05 over 33 requests \(95% lower bound 0\.2\)\n         \(npx cutover ctl unlock to clear it\)/)
  t.match(out, /rollout  none/)
  t.match(out, /gates    no verdict since the rollback/)
})

t.test('without a token: one line saying to set CUTOVER_TOKEN or --token, exit 2, no call', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url })
  t.equal(await runCtl(['status'], io), 2)
  t.same(io.stderr, ['cutover ctl: no token: set CUTOVER_TOKEN to the control token (control.token; the demo prints it), or pass --token TOKEN'])
  t.equal(api.seen.length, 0)
  const refused = await fakeApi(t, () => [401, { error: 'invalid bearer token', code: 'CUTOVER_ERR_UNAUTHORIZED' }])
  const wrong = capture({ CUTOVER_URL: refused.url, CUTOVER_TOKEN: 'nope-nope' })
  t.equal(await runCtl(['status'], wrong), 1)
  t.match(wrong.stderr.join('\n'), /GET \/v1\/state: 401 invalid bearer token; check CUTOVER_TOKEN \(or --token\): it is not the control token/)
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
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['nodes'], io), 0)
  const lines = io.stdout.join('\n').split('\n')
  t.match(lines[0], /^POOL\s+NODE\s+URL\s+HEALTH/)
  t.match(lines[1], /^x\s+kong-x1\s+http:\/\/10\.0\.0\.11:8000\s+healthy\s+no\s+3\s+ok 200$/)
  t.match(lines[2], /^y\s+10\.0\.0\.21:8000\s+http:\/\/10\.0\.0\.21:8000\s+UNHEALTHY\s+no\s+0\s+failed: connection refused$/)
  t.notMatch(lines[0], /LAST FAILURE/, 'no failure column while no node has one')
})

t.test("nodes shows a node's last failure, once some node has one", async (t) => {
  const y = STATE.pools.y.nodes[0]
  const failed = {
    ...STATE,
    pools: { ...STATE.pools, y: { nodes: [{ ...y, last_failure: { kind: 'protocol', why: 'response head refused: Content-Length with Transfer-Encoding', at: '2026-01-01T00:00:05.000Z' } }] } },
  }
  const api = await fakeApi(t, () => [200, failed])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['nodes'], io), 0)
  const lines = io.stdout.join('\n').split('\n')
  t.match(lines[0], /LAST PROBE\s+LAST FAILURE$/)
  t.match(lines[1], /ok 200\s+-$/)
  t.match(lines[2], /failed: connection refused\s+\d\d:\d\d:\d\d protocol: response head refused: Content-Length with Transfer-Encoding$/)
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
  const io = capture({ CUTOVER_URL: url, CUTOVER_TOKEN: TOKEN })
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
  const at = new Date(2026, 0, 1, 14, 3, 9).toISOString() // 14:03:09 local time
  const list = [
    { id: 1, at, type: 'startup', cause: 'startup', source: 'config split.y', y: 10, locked: false },
    { id: 2, at, type: 'rollback', cause: 'gate', reason: 'gate max_error_rate: error_rate 0.4 > 0.01', from: 10, to: 0, rollout_stopped: false },
    { id: 3, at, type: 'rollout.step', cause: 'rollout', step: 1, of: 3, from: 10, to: 50 },
  ]
  const api = await fakeApi(t, (req) => [200, req.url === '/v1/events?since=0' ? list : []])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  let polls = 0
  io.wait = async () => ++polls < 3
  t.equal(await runCtl(['events', '--follow'], io), 0)
  t.same(
    io.stdout,
    [
      "    1  14:03:09  cutover started with y at 10% (from the config's split.y)",
      '    2  14:03:09  The gate rolled y back to x: gate max_error_rate: error_rate 0.4 > 0.01. y was at 10%; the split stays locked until unlocked',
      '    3  14:03:09  Rollout step 2 of 3: y 10% → 50%',
    ],
    'sentences, steps counted from 1, local time',
  )
  t.same(
    api.seen.map((s) => s.url),
    ['/v1/events?since=0', '/v1/events?since=3', '/v1/events?since=3'],
  )
  const json = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['events', '--json'], json), 0)
  t.same(
    json.stdout.map((l) => JSON.parse(l)),
    list,
    '--json: the events as the API gives them',
  )
})

t.test('format helpers', async (t) => {
  t.equal(formatMs(250), '1 s')
  t.equal(formatMs(61_000), '1 min 1 s')
  t.equal(formatMs(3_720_000), '1 h 2 min')
  t.equal(formatMs(null), '-')
  t.equal(splitBar(0, 10), '██████████')
  t.equal(splitBar(100, 10), '░░░░░░░░░░')
  t.equal(splitBar(30, 10), '███████░░░')
})

t.test('split takes any share with two decimals, binary floats included', async (t) => {
  const api = await fakeApi(t, () => [200, STATE])
  const io = capture({ CUTOVER_URL: api.url, CUTOVER_TOKEN: TOKEN })
  t.equal(await runCtl(['split', '0.29'], io), 0)
  t.equal(await runCtl(['split', '33.33'], io), 0)
  t.same(
    api.seen.map((s) => s.body),
    ['{"y":0.29}', '{"y":33.33}'],
  )
})

t.test('status in a fleet: one line per replica with its address, last seen, traffic, node view, and which leads', async (t) => {
  const fleet = fleetView()
  const out = formatStatus({ ...(STATE as object), fleet })
  t.match(out, /\nfleet    3 replicas, r2 leads; etcd up; this answer from r1\n/)
  const lines = out.split('\n').filter((l) => /^ {9}r\d/.test(l))
  t.equal(lines.length, 3, 'one line per replica')
  const seen = clockTime(fleet.replicas[0].last_seen)
  t.match(lines[0], new RegExp(`^ {9}r1 {9}10\\.0\\.0\\.1:9901  seen ${seen}  x 900 requests, 9 errors \\(1%\\)  y 100 requests, 0 errors \\(0%\\)  nodes 2 of 2 usable$`))
  t.match(lines[1], /^ {9}r2  leads  10\.0\.0\.2:9901 /)
  t.match(lines[2], /nodes 1 of 2 usable \(not: y:y1\)$/, "r3's own view of the nodes")
  const down = formatStatus({ ...(STATE as object), fleet: { ...fleet, leader: null, backend: { ...fleet.backend, up: false, reason: 'connect ECONNREFUSED' } } })
  t.match(down, /fleet    3 replicas, no leader yet; etcd DOWN \(connect ECONNREFUSED\): routing at the last known split, writes refused/)
  t.notMatch(formatStatus(STATE), /fleet|replicas/, 'no fleet section with the file backend')
})
