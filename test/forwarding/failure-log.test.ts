import http2 from 'node:http2'
import net from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { request } from 'undici'
import { FAILURE_LOG_INTERVAL, FailureLog } from '../../src/forwarding/failure-log.js'
import { FakeClock } from '../../src/clock.js'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, startH2Upstream } from '../helpers/h2.js'
import { closedPort, startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { node } from './fixtures.js'

type Line = Record<string, unknown>

function capture(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

const failures = (lines: Line[]) => lines.filter((l) => l.msg === 'upstream attempt failed')

t.test('one line per node and failure per interval, with how many more came since', async (t) => {
  const clock = new FakeClock()
  const { logger, lines } = capture()
  const log = new FailureLog(logger, clock)
  const a = node('y', 1)
  const b = node('y', 2)
  log.note(a, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', { answered: 502 }, 'http1')
  log.note(a, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', { answered: 502 }, 'http1')
  log.note(a, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', { retried: b }, 'http1')
  t.equal(lines.length, 1, 'the same failure again within the interval: counted, not written')
  t.match(lines[0], { level: 40, pool: 'y', node: a.name, kind: 'connect', why: 'connect ECONNREFUSED 127.0.0.1:1', outcome: 'answered 502', protocol: 'http1' })
  t.notOk('more_since_last_line' in lines[0])

  // another failure of the same node, another node: lines of their own
  log.note(a, 'protocol', 'response head refused: Content-Length with Transfer-Encoding', 'cut', 'http1')
  log.note(b, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', 'client gone', 'h2')
  t.equal(lines.length, 3)
  t.match(lines[1], { node: a.name, kind: 'protocol', outcome: 'cut' })
  t.match(lines[2], { node: b.name, outcome: 'client gone', protocol: 'h2' })

  clock.advance(FAILURE_LOG_INTERVAL - 1)
  log.note(a, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', { retried: b }, 'http1')
  t.equal(lines.length, 3)
  clock.advance(1)
  log.note(a, 'connect', 'connect ECONNREFUSED 127.0.0.1:1', { retried: b }, 'http1')
  t.equal(lines.length, 4)
  t.match(lines[3], { node: a.name, outcome: `retried on y/${b.name}`, more_since_last_line: 3 })
})

t.test('a node cannot grow the memory by varying its failures: past 32, one line per kind', async (t) => {
  const clock = new FakeClock()
  const { logger, lines } = capture()
  const log = new FailureLog(logger, clock)
  const a = node('x', 1)
  for (let i = 0; i < 100; i++) log.note(a, 'reset', `the node reset the stream (error code ${i})`, { answered: 502 }, 'h2')
  t.equal(lines.length, 33, '32 distinct lines, then one for the kind')
  t.equal(lines[32].why, 'the node reset the stream (error code 32)')
})

/** A node that answers every request with the bytes given, then closes (or, with hold, keeps the connection open). */
async function rawNode(answer: string, hold = false): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
    s.once('data', () => (hold ? s.write(answer) : s.end(answer)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

t.test('a 502 says in the log what the node did and what the client got', async (t) => {
  const bad = await rawNode('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
  t.teardown(() => bad.close())
  const { logger, lines } = capture()
  const c = await startTestCutover({ x: [bad.url], y: [], log: 'level: info', start: { logger } })
  t.teardown(() => c.cutover.close())
  for (let i = 0; i < 3; i++) {
    const res = await request(`${c.proxyUrl}/orders`)
    await res.body.text()
    t.equal(res.statusCode, 502)
  }
  const got = failures(lines)
  t.equal(got.length, 1, 'three alike failures within 10 s: one line')
  t.match(got[0], {
    level: 40,
    pool: 'x',
    node: bad.url.replace('http://', ''),
    kind: 'protocol',
    why: 'response head refused: Content-Length with Transfer-Encoding',
    outcome: 'answered 502',
    protocol: 'http1',
  })
  const node = (await c.api('GET', '/v1/state')).body.pools.x.nodes[0]
  t.match(node.last_failure, { kind: 'protocol', why: 'response head refused: Content-Length with Transfer-Encoding' }, 'and /v1/state keeps it')
  t.ok(Date.parse(node.last_failure.at) > Date.now() - 60_000)
})

t.test('a refused connect that was retried says where the request went', async (t) => {
  const dead = await closedPort()
  const good = await startUpstream('y1')
  t.teardown(() => good.close())
  const { logger, lines } = capture()
  // x has only the dead node: the retry goes to y's
  const c = await startTestCutover({ x: [`http://127.0.0.1:${dead}`], y: [good.url], log: 'level: info', start: { logger } })
  t.teardown(() => c.cutover.close())
  const res = await request(`${c.proxyUrl}/`)
  t.equal(res.statusCode, 200)
  t.match(JSON.parse(await res.body.text()), { upstream: 'y1' })
  const got = failures(lines)
  t.equal(got.length, 1)
  t.match(got[0], { pool: 'x', kind: 'connect', why: /ECONNREFUSED/, outcome: `retried on y/${good.url.replace('http://', '')}` })
})

t.test('a node that stalls mid-answer: the client is cut and the log says why', async (t) => {
  const stall = await rawNode('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part', true)
  t.teardown(() => stall.close())
  const { logger, lines } = capture()
  const c = await startTestCutover({ x: [stall.url], y: [], proxy: '  idle_timeout: 200ms', log: 'level: info', start: { logger } })
  t.teardown(() => c.cutover.close())
  const res = await request(`${c.proxyUrl}/`)
  t.equal(res.statusCode, 200)
  await t.rejects(res.body.text(), 'the client sees the answer broken')
  t.match(failures(lines)[0], { kind: 'timeout', why: 'the body of the answer stood still for idle_timeout', outcome: 'cut' })
})

t.test("h2: a node that resets the stream is named with its error code (Node's message)", async (t) => {
  const up = await startH2Upstream('x1', (stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR))
  const { logger, lines } = capture()
  const node = `{ url: ${up.h2.replace(/^h2c?:/, 'http:')}, h2: "${up.h2}" }`
  const c = await startTestCutover({ x: [node], y: [], proxy: '  h2c_listen: 127.0.0.1:0', log: 'level: info', start: { logger } })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  // POST: not retried once its body may have gone
  const r = await h2Request(session, { ':path': '/', ':method': 'POST' }, 'x')
  t.equal(r.status, 502)
  t.match(failures(lines)[0], { pool: 'x', kind: 'reset', why: 'Stream closed with error code NGHTTP2_INTERNAL_ERROR', outcome: 'answered 502', protocol: 'h2' })
})

t.test('an ejection for refused connects says what the node did', async (t) => {
  const dead = await closedPort()
  const good = await startUpstream('x2')
  t.teardown(() => good.close())
  const { logger } = capture()
  const c = await startTestCutover({ x: [`http://127.0.0.1:${dead}`, good.url], y: [], extra: 'health: { passive: { max_failures: 2, eject_for: 30s } }', start: { logger } })
  t.teardown(() => c.cutover.close())
  type Event = { type: string; node: string; why?: string; cause: string }
  const ejection = await waitUntil(
    'the dead node ejected',
    async () => {
      const res = await request(`${c.proxyUrl}/`)
      await res.body.text()
      return ((await c.api('GET', '/v1/events')).body as Event[]).find((e) => e.type === 'node.ejected')
    },
    5000,
  )
  t.match(ejection, { node: `127.0.0.1:${dead}`, cause: 'ejected after 2 failures: connect', why: /ECONNREFUSED/ })
})
