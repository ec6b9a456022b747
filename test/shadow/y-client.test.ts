/**
 * The shadow copies' own HTTP/1.1 client against a raw TCP server whose bytes each test
 * writes: answers framed by length, chunks (after a 1xx) and the close; keep-alive reuse;
 * a broken head; a request cut while y is silent; idle connections closed by the sweep.
 */

import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { toNodeConfig } from '../../src/config/addresses.js'
import { IDLE_MS, YClient, type YReceiver } from '../../src/shadow/y-client.js'
import { waitUntil } from '../helpers/wait.js'

interface Raw {
  port: number
  /** connections accepted so far */
  connections: number
  /** connections open now */
  open: Set<net.Socket>
  /** what each request's bytes were, in order */
  requests: string[]
  close(): Promise<void>
}

/** A server answering each request (one per data event) with answer(request, index). */
async function rawServer(answer: (request: string, index: number) => string | null): Promise<Raw> {
  const raw: Raw = { port: 0, connections: 0, open: new Set(), requests: [], close: async () => {} }
  const server = net.createServer((socket) => {
    raw.connections++
    raw.open.add(socket)
    socket.on('close', () => raw.open.delete(socket))
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      const text = chunk.toString('latin1')
      raw.requests.push(text)
      const reply = answer(text, raw.requests.length - 1)
      if (reply === null) return
      if (reply.endsWith('<close>')) socket.end(reply.slice(0, -'<close>'.length), 'latin1')
      else socket.write(reply, 'latin1')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  raw.port = (server.address() as net.AddressInfo).port
  raw.close = async () => {
    for (const s of raw.open) s.destroy()
    server.close()
    await once(server, 'close')
  }
  return raw
}

interface Heard {
  status?: number
  headers?: string[]
  body: string
  done: boolean
  failed?: string
}

function receiver(): YReceiver & { heard: Heard } {
  const heard: Heard = { body: '', done: false }
  return {
    heard,
    yHead(status, headers) {
      heard.status = status
      heard.headers = headers
    },
    yBody(chunk) {
      heard.body += chunk.toString('latin1')
    },
    yDone() {
      heard.done = true
    },
    yFailed(reason) {
      heard.failed = reason
    },
  }
}

function setup(t: Test, answer: (request: string, index: number) => string | null) {
  let now = 0
  const client = new YClient(
    () => 4,
    () => now,
  )
  const result = rawServer(answer).then((raw) => {
    t.teardown(async () => {
      client.close()
      await raw.close()
    })
    return { raw, client, node: toNodeConfig(new URL(`http://127.0.0.1:${raw.port}`), 1), advance: (ms: number) => (now += ms) }
  })
  return result
}

const GET = 'GET /a HTTP/1.1\r\nhost: y\r\n\r\n'

t.test('a length-framed answer, then a second request on the same connection', async (t) => {
  const { raw, client, node } = await setup(t, (_req, i) => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"n": ${i}}`)
  const first = receiver()
  client.request(node, 'GET', GET, undefined, first)
  await waitUntil('the first answer', () => first.heard.done, 5000)
  t.same(first.heard, { status: 200, headers: ['Content-Type', 'application/json', 'Content-Length', '8'], body: '{"n": 0}', done: true })
  t.equal(client.idle, 1, 'the connection kept')
  const second = receiver()
  client.request(node, 'GET', GET, undefined, second)
  await waitUntil('the second answer', () => second.heard.done, 5000)
  t.equal(second.heard.body, '{"n": 1}')
  t.equal(raw.connections, 1, 'both over one connection')
  t.equal(raw.requests[0], GET, 'the head as given')
})

t.test('a request body goes after the head', async (t) => {
  const { raw, client, node } = await setup(t, (req) => (req.endsWith('hello') ? 'HTTP/1.1 204 No Content\r\n\r\n' : null))
  const r = receiver()
  client.request(node, 'POST', 'POST /p HTTP/1.1\r\nhost: y\r\ncontent-length: 5\r\n\r\n', Buffer.from('hello'), r)
  await waitUntil('the answer', () => r.heard.done, 5000)
  t.equal(r.heard.status, 204)
  t.equal(raw.requests.join(''), 'POST /p HTTP/1.1\r\nhost: y\r\ncontent-length: 5\r\n\r\nhello')
})

t.test('a 103 first, then a chunked answer', async (t) => {
  const { client, node } = await setup(t, () => 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
  const r = receiver()
  client.request(node, 'GET', GET, undefined, r)
  await waitUntil('the answer', () => r.heard.done, 5000)
  t.equal(r.heard.status, 404)
  t.equal(r.heard.body, 'abcde')
  t.equal(client.idle, 1, 'a whole chunked answer leaves the connection reusable')
})

t.test('an answer framed by the close', async (t) => {
  const { client, node } = await setup(t, () => 'HTTP/1.0 200 OK\r\n\r\nuntil the end<close>')
  const r = receiver()
  client.request(node, 'GET', GET, undefined, r)
  await waitUntil('the answer', () => r.heard.done, 5000)
  t.equal(r.heard.body, 'until the end')
  t.equal(client.idle, 0, 'not kept')
})

t.test('a broken head, a short body and a refused connection are failures with the reason', async (t) => {
  const { client, node } = await setup(t, (req) => (req.includes('/broken') ? 'HTTP/1.1 2x0 Nope\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort<close>'))
  const broken = receiver()
  client.request(node, 'GET', 'GET /broken HTTP/1.1\r\nhost: y\r\n\r\n', undefined, broken)
  const short = receiver()
  client.request(node, 'GET', GET, undefined, short)
  await waitUntil('both failed', () => broken.heard.failed !== undefined && short.heard.failed !== undefined, 5000)
  t.match(broken.heard.failed, /response head/)
  t.match(short.heard.failed, /before its answer was whole/)
  t.notOk(short.heard.done)

  const closed = net.createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as net.AddressInfo).port
  closed.close()
  await once(closed, 'close')
  const refused = receiver()
  client.request(toNodeConfig(new URL(`http://127.0.0.1:${port}`), 1), 'GET', GET, undefined, refused)
  await waitUntil('refused', () => refused.heard.failed !== undefined, 5000)
  t.match(refused.heard.failed, /ECONNREFUSED/)
})

t.test('a request cut while y is silent: its connection closed, its receiver told nothing', async (t) => {
  const { raw, client, node } = await setup(t, () => null)
  const r = receiver()
  const handle = client.request(node, 'GET', GET, undefined, r)
  await waitUntil('the request arrived', () => raw.requests.length === 1, 5000)
  handle.cut()
  await waitUntil('the connection closed', () => raw.open.size === 0, 5000)
  t.same(r.heard, { body: '', done: false })
  t.equal(client.idle, 0)
})

t.test('idle connections are closed by the sweep once idle for IDLE_MS', async (t) => {
  const { raw, client, node, advance } = await setup(t, () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
  const r = receiver()
  client.request(node, 'GET', GET, undefined, r)
  await waitUntil('the answer', () => r.heard.done, 5000)
  t.equal(client.idle, 1)
  client.sweepIdle(advance(IDLE_MS))
  t.equal(client.idle, 1, 'not yet')
  client.sweepIdle(advance(1))
  await waitUntil('the connection closed', () => raw.open.size === 0, 5000)
  t.equal(client.idle, 0)
})

t.test('an answer held (pause) in the read that brings its end: the kept connection reads the next one', async (t) => {
  const { raw, client, node } = await setup(t, (_req, i) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nn=${i}\r\n0\r\n\r\n`)
  const first = receiver()
  const yBody = first.yBody
  let handle: ReturnType<YClient['request']> | undefined
  first.yBody = (chunk) => {
    yBody(chunk)
    handle?.pause()
  }
  handle = client.request(node, 'GET', GET, undefined, first)
  await waitUntil('the first answer', () => first.heard.done, 5000)
  t.equal(client.idle, 1, 'the connection kept')
  const second = receiver()
  client.request(node, 'GET', GET, undefined, second)
  await waitUntil('the second answer', () => second.heard.done, 5000)
  t.equal(second.heard.body, 'n=1')
  t.equal(raw.connections, 1, 'both over one connection')
})

t.test('an answer that is mostly framing (endless 1xx heads, a chunk extension without end) fails instead of being read at wire speed', async (t) => {
  const interims = 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(40_000)
  const longExtension = `1;a=${'b'.repeat(1_000_000)}\r\nx\r\n0\r\n\r\n`
  const { client, node } = await setup(t, (_req, i) =>
    i === 0 ? `${interims}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok` : `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${longExtension}`,
  )
  const first = receiver()
  client.request(node, 'GET', GET, undefined, first)
  await waitUntil('the first request over', () => first.heard.done || first.heard.failed !== undefined, 5000)
  t.match(first.heard.failed, /framing/, '40 000 interim answers: a failure')
  const second = receiver()
  client.request(node, 'GET', GET, undefined, second)
  await waitUntil('the second request over', () => second.heard.done || second.heard.failed !== undefined, 5000)
  t.match(second.heard.failed, /framing/, 'a 1 MB chunk extension: a failure')
})

t.test('y says Keep-Alive: timeout=1: its idle connection is reused only within half a second, then closed', async (t) => {
  const { raw, client, node, advance } = await setup(t, () => 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok')
  const ask = async () => {
    const r = receiver()
    client.request(node, 'GET', GET, undefined, r)
    await waitUntil('the answer', () => r.heard.done || r.heard.failed !== undefined, 5000)
    t.equal(r.heard.body, 'ok')
  }
  await ask()
  advance(499)
  await ask()
  t.equal(raw.connections, 1, 'reused within y’s word, less its margin')
  advance(500)
  await ask()
  t.equal(raw.connections, 2, 'not reused once y may be closing it: a new connection')
  t.equal(client.idle, 1)
  client.sweepIdle(advance(500))
  t.equal(client.idle, 1, 'not yet')
  client.sweepIdle(advance(1))
  await waitUntil('the idle connection closed by the sweep', () => raw.open.size === 0, 5000)
  t.equal(client.idle, 0, 'the sweep closes it at y’s word, not at IDLE_MS')
})

t.test('y says Keep-Alive: timeout=0: its connection is closed right after the answer, never parked idle', async (t) => {
  const { raw, client, node } = await setup(t, () => 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=0\r\nContent-Length: 2\r\n\r\nok')
  for (let i = 1; i <= 2; i++) {
    const r = receiver()
    client.request(node, 'GET', GET, undefined, r)
    await waitUntil('the answer', () => r.heard.done || r.heard.failed !== undefined, 5000)
    t.equal(r.heard.body, 'ok')
    t.equal(client.idle, 0, 'no idle slot taken')
    // no sweep and no clock advance: closed by the answer's end alone
    await waitUntil('the connection closed', () => raw.open.size === 0, 5000)
    t.equal(raw.connections, i, 'each request on a new connection')
  }
})

/** y closes its kept connection as the second request arrives on it, before any byte of an answer (its idle timeout, met in flight) */
const closesKept = (_req: string, i: number) => (i === 1 ? '<close>' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')

t.test('a kept connection y closes before any byte of the answer: an idempotent copy goes once more on a new one', async (t) => {
  const { raw, client, node } = await setup(t, closesKept)
  const first = receiver()
  client.request(node, 'GET', GET, undefined, first)
  await waitUntil('the first answer', () => first.heard.done, 5000)
  const second = receiver()
  client.request(node, 'GET', GET, undefined, second)
  await waitUntil('the second request over', () => second.heard.done || second.heard.failed !== undefined, 5000)
  t.same(second.heard, { status: 200, headers: ['Content-Length', '2'], body: 'ok', done: true }, 'answered, not failed')
  t.equal(raw.connections, 2, 'sent again on a new connection')
  t.same(raw.requests, [GET, GET, GET])
})

t.test('a POST on a kept connection y closes before answering: not sent again, a failure', async (t) => {
  const { raw, client, node } = await setup(t, closesKept)
  const first = receiver()
  client.request(node, 'GET', GET, undefined, first)
  await waitUntil('the first answer', () => first.heard.done, 5000)
  const post = receiver()
  client.request(node, 'POST', 'POST /p HTTP/1.1\r\nhost: y\r\ncontent-length: 2\r\n\r\n', Buffer.from('hi'), post)
  await waitUntil('the POST over', () => post.heard.done || post.heard.failed !== undefined, 5000)
  t.match(post.heard.failed, /before its answer was whole/)
  t.equal(raw.connections, 1, 'a POST is never sent twice')
})

t.test('a new connection y closes before answering: no second try', async (t) => {
  const { raw, client, node } = await setup(t, () => '<close>')
  const r = receiver()
  client.request(node, 'GET', GET, undefined, r)
  await waitUntil('the request over', () => r.heard.done || r.heard.failed !== undefined, 5000)
  t.match(r.heard.failed, /before its answer was whole/)
  t.equal(raw.connections, 1)
})
