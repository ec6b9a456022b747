import { existsSync } from 'node:fs'
import net from 'node:net'
import { dirname } from 'node:path'
import { PassThrough } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { Agent, request } from 'undici'
import { seededRandom } from '../../src/clock.js'
import { runDemo, startDemo, X_VERSION, Y_VERSION } from '../../src/demo/demo.js'

const silent = pino({ level: 'silent' })
const agent = new Agent({ keepAliveTimeout: 500 })
t.teardown(() => agent.close())

async function call(url: string, init: { method?: 'GET' | 'PUT' | 'POST'; token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers }
  if (init.token) headers.authorization = `Bearer ${init.token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await request(url, { dispatcher: agent, method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text }
}

function capture() {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (c: Buffer) => (text += c.toString()))
  return { stream, text: () => text }
}

t.test('startDemo serves both versions through the proxy after the control API sets y to 50', async (t) => {
  const demo = await startDemo({ port: 0, controlPort: 0, rps: 0, yReadyAfterMs: 0, logger: silent, random: seededRandom(3) })
  let closed = false
  t.teardown(() => (closed ? undefined : demo.close()))
  t.equal(demo.nodes.x.length, 3)
  t.equal(demo.nodes.y.length, 3)
  t.ok(demo.nodes.x.every((n) => n.version === X_VERSION) && demo.nodes.y.every((n) => n.version === Y_VERSION))
  t.match(demo.proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(demo.token, /^[A-Za-z0-9_-]{24}$/, 'a random 24-char token')
  t.equal(demo.cutover.state.current.y, 10, 'the initial split from --split')
  t.ok(existsSync(demo.statePath), 'state lives in the demo temp dir')

  t.equal((await call(`${demo.controlUrl}/v1/state`)).status, 401, 'the control API wants the token')
  const put = await call(`${demo.controlUrl}/v1/split`, { method: 'PUT', token: demo.token, body: { y: 50 } })
  t.equal(put.status, 200, put.text)
  t.equal(demo.cutover.state.current.y, 50)

  const forced = await call(`${demo.proxyUrl}/orders`, { headers: { 'x-cutover-pool': 'x' } })
  t.equal(forced.headers.server, `kong/${X_VERSION}`, 'the override header is configured')

  // the y nodes become healthy after two probes a second apart; keep asking until both
  // versions have answered, bounded so a broken proxy fails the test instead of hanging
  const seen = new Map<string, number>()
  const deadline = Date.now() + 8000
  let i = 0
  while ((seen.size < 2 || i < 40) && Date.now() < deadline) {
    const res = await call(`${demo.proxyUrl}/orders/${i}`, { headers: { 'x-consumer-id': `consumer-${i % 200}` } })
    i++
    t.equal(res.status, 200, `request ${i}`, { diagnostic: false })
    const server = String(res.headers.server)
    seen.set(server, (seen.get(server) ?? 0) + 1)
    if (seen.size < 2) await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(seen.get(`kong/${X_VERSION}`), `x answered (${[...seen].join(', ')})`)
  t.ok(seen.get(`kong/${Y_VERSION}`), `y answered (${[...seen].join(', ')})`)

  const urls = [demo.proxyUrl, demo.controlUrl, ...demo.nodes.x.map((n) => n.url), ...demo.nodes.y.map((n) => n.url)]
  await demo.close()
  closed = true
  await demo.close() // idempotent
  for (const url of urls) await t.rejects(request(url, { dispatcher: agent }), { code: 'ECONNREFUSED' }, `${url} is closed`)
  t.notOk(existsSync(dirname(demo.statePath)), 'the temp state dir is removed')
})

t.test('runDemo: banner, then a clean stop with exit code 0', async (t) => {
  const out = capture()
  const err = capture()
  let stop!: () => void
  const stopped = new Promise<void>((r) => (stop = r))
  const code = runDemo(['--port', '0', '--control-port', '0', '--rps', '0', '--token', 'demo-token-42'], { stdout: out.stream, stderr: err.stream, stop: stopped, logger: silent })
  const deadline = Date.now() + 5000
  while (!out.text().includes('Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.match(out.text(), /export CUTOVER_URL=http:\/\/127\.0\.0\.1:\d+ CUTOVER_TOKEN=demo-token-42/)
  stop()
  t.equal(await code, 0)
  t.equal(err.text(), '')
})

t.test('runDemo: bad flags give one line and exit code 2; --help gives 0', async (t) => {
  const err = capture()
  t.equal(await runDemo(['--y-error-rate', 'lots'], { stderr: err.stream }), 2)
  t.match(err.text(), /^cutover demo: --y-error-rate: .*\n$/)
  t.equal(err.text().split('\n').length, 2, 'exactly one line')
  const out = capture()
  t.equal(await runDemo(['--help'], { stdout: out.stream }), 0)
  t.match(out.text(), /--y-ready-after/)
})

t.test('runDemo: a taken port is one clear line naming it and the flag', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())))
  const taken = (blocker.address() as net.AddressInfo).port
  for (const [flag, argv] of [
    ['--port', ['--port', String(taken), '--control-port', '0']],
    ['--control-port', ['--port', '0', '--control-port', String(taken)]],
  ] as const) {
    const err = capture()
    const code = await runDemo([...argv, '--rps', '0'], { stderr: err.stream, stdout: new PassThrough(), logger: silent, stop: new Promise(() => {}) })
    t.equal(code, 1)
    t.equal(err.text(), `cutover demo: port ${taken} is already in use; choose another with ${flag} N (0 picks a free one)\n`)
  }
})
