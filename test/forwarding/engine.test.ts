// The engine's HTTP/1.1 behaviours end to end, on raw client sockets against real nodes:
// pipelining, 100-continue, trailers, 1xx, HTTP/1.0 clients, drain, the upgrade time limit.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { waitUntil } from '../helpers/wait.js'
import { rawExchange } from '../hardening/raw.js'
import { close, closedPort, listen, node, startProxy } from './fixtures.js'
import { MAX_QUEUED } from '../../src/forwarding/exchange.js'
import { READ_SIZE } from '../../src/upstream/read-buffers.js'

/** Collect what a raw socket receives; resolves `until(text)` once the received text satisfies it. */
function rawClient(port: number): { socket: net.Socket; text: () => string; until: (what: string, cond: (text: string) => boolean) => Promise<string>; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (d) => (text += d.toString('latin1')))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  return { socket, text: () => text, until: (what, cond) => waitUntil(what, () => (cond(text) ? text : undefined), 3000, 5), closed }
}

const count = (text: string, s: string) => text.split(s).length - 1

t.test('pipelined requests are answered in order on one connection', async (t) => {
  const server = http.createServer((req, res) => {
    // the first one is slowest: order must come from cutover, not from the node
    const delay = req.url === '/1' ? 60 : 0
    setTimeout(() => res.end(`body of ${req.url}`), delay)
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const c = rawClient(p.port)
  c.socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  await c.closed
  const text = c.text()
  t.equal(count(text, 'HTTP/1.1 200 '), 3, 'three answers')
  t.ok(text.indexOf('body of /1') < text.indexOf('body of /2') && text.indexOf('body of /2') < text.indexOf('body of /3'), 'in order')
  t.match(text, /Connection: close\r\n\r\nbody of \/3$/, 'the last one closes')
})

t.test('Expect: 100-continue is answered once a node is ready; the node does not see Expect', async (t) => {
  let seenExpect: string | undefined = 'unset'
  let body = ''
  const server = http.createServer((req, res) => {
    seenExpect = req.headers.expect
    req.setEncoding('latin1')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => res.end('stored'))
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const c = rawClient(p.port)
  c.socket.write('PUT /obj HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
  await c.until('100 Continue', (s) => s.startsWith('HTTP/1.1 100 Continue\r\n\r\n'))
  t.equal(count(c.text(), 'HTTP/1.1'), 1, 'nothing else yet: the client has not sent the body')
  c.socket.write('hello')
  const text = await c.until('the answer', (s) => s.endsWith('stored'))
  t.equal(count(text, 'HTTP/1.1 100 Continue'), 1, 'one 100 Continue')
  t.match(text, /HTTP\/1\.1 200 OK\r\n/)
  t.equal(body, 'hello')
  t.equal(seenExpect, undefined, 'Expect is hop-by-hop here')
  c.socket.destroy()
})

t.test('trailers pass both ways; a chunked upload reaches the node framed by cutover', async (t) => {
  let trailers: Record<string, string | undefined> = {}
  let rawBody = ''
  const server = http.createServer((req, res) => {
    req.setEncoding('latin1')
    req.on('data', (c: string) => (rawBody += c))
    req.on('end', () => {
      trailers = req.trailers
      res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' })
      res.write('part;')
      res.addTrailers({ 'X-Checksum': 'abc123' })
      res.end()
    })
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const answer = await rawExchange(p.port, 'POST /up HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n', 2000)
  t.equal(answer.status, 200)
  t.equal(rawBody, 'abcde', 'the payload arrived whole')
  t.equal(trailers['x-sum'], '5', 'the client trailer reached the node')
  t.match(answer.text, /\r\nTransfer-Encoding: chunked\r\n/)
  t.match(answer.text, /\r\n0\r\nX-Checksum: abc123\r\n\r\n$/, 'the node trailer reached the client')
})

t.test('1xx interim answers are relayed before the final one', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
    setTimeout(() => res.end('final'), 20)
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const answer = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 2000)
  t.match(answer.text, /^HTTP\/1\.1 103 Early Hints\r\n[Ll]ink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/)
  t.match(answer.text, /final$/)
})

t.test('an HTTP/1.0 client gets a chunked answer as plain bytes, then close', async (t) => {
  const server = http.createServer((_req, res) => {
    res.write('one;')
    res.end('two')
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const answer = await rawExchange(p.port, 'GET /old HTTP/1.0\r\n\r\n', 2000)
  t.equal(answer.status, 200)
  t.ok(answer.closed)
  t.notMatch(answer.text, /transfer-encoding/i)
  t.match(answer.text, /\r\n\r\none;two$/)
})

t.test("cutover's own answers to an HTTP/1.0 keep-alive client say Connection: keep-alive where the connection is kept", async (t) => {
  // one proxy whose only node refuses connections (502; 503 once the failure made it
  // unusable), one with no node at all (503)
  const refused = await startProxy({ x: [node('x', await closedPort())], proxy: { retries: 0 } })
  const empty = await startProxy({})
  t.teardown(async () => {
    await refused.close()
    await empty.close()
  })
  for (const [p, status] of [
    [refused, '50[23]'],
    [empty, '503'],
  ] as const) {
    const c = rawClient(p.port)
    t.teardown(() => c.socket.destroy())
    const own = new RegExp(`HTTP/1\\.1 ${status} `, 'g')
    // HTTP/1.0 ends the connection after an answer without keep-alive: a client that pipelined
    // would take the next answer for nobody's (or resend, and the node acts twice)
    c.socket.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    const first = await c.until(`the first ${status}`, (text) => text.endsWith('}'))
    t.match(first, new RegExp(`^HTTP/1\\.1 ${status} `), `${status}`)
    t.match(first, /\r\nconnection: keep-alive\r\n/i, `the ${status} says the connection is kept`)
    c.socket.write('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    const both = await c.until(`the second ${status}`, (text) => (text.match(own) ?? []).length === 2 && text.endsWith('}'))
    t.equal(count(both, 'keep-alive'), 2, 'and so does the next, on the same connection')
    c.socket.write('GET /c HTTP/1.0\r\n\r\n')
    await c.closed
    t.match(c.text().slice(both.length), /\r\nconnection: close\r\n/i, 'a request without keep-alive ends it')
  }
})

t.test('drain: an idle keep-alive connection closes at once, one in flight gets its answer with connection: close', async (t) => {
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') void released.then(() => res.end('slow done'))
    else res.end('quick')
  })
  const p = await startProxy({ x: [node('x', await listen(server))], proxy: { keepalive_timeout: 60000 } })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const idle = rawClient(p.port)
  idle.socket.write('GET /quick HTTP/1.1\r\nHost: a\r\n\r\n')
  await idle.until('the quick answer', (s) => s.endsWith('quick'))
  const busy = rawClient(p.port)
  busy.socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n')
  await waitUntil('the slow request in flight', () => p.forwarder.inflight === 1, 2000)
  let drained = false
  const draining = p.server.close().then(() => (drained = true))
  await idle.closed
  t.pass('the idle connection closed without waiting for keepalive_timeout')
  t.notOk(drained, 'the drain waits for the request in flight')
  release()
  const text = await busy.until('the slow answer', (s) => s.endsWith('slow done'))
  t.match(text, /\r\nConnection: close\r\n/, 'answered with connection: close')
  await busy.closed
  await draining
  t.ok(drained, 'drained once the last connection ended')
})

t.test('an upgrade the node never answers: 504 after request_timeout, no client held for ever', async (t) => {
  // reads (so it sees cutover's close) and never answers
  const silent = net.createServer((s) => s.on('error', () => undefined).resume())
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  const port = (silent.address() as net.AddressInfo).port
  const p = await startProxy({ x: [node('x', port)], proxy: { request_timeout: 200 } })
  t.teardown(async () => {
    await p.close()
    await new Promise((r) => silent.close(r))
  })
  const started = Date.now()
  const answer = await rawExchange(p.port, 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 3000)
  const ms = Date.now() - started
  t.equal(answer.status, 504)
  t.ok(answer.closed)
  t.ok(ms >= 150 && ms < 2000, `answered after ${ms} ms (request_timeout 200 ms, tolerance 150..2000)`)
  await p.sink.waitFinished(1)
  t.ok(p.sink.calls.some((c) => c[0] === 'attemptFailed' && c[2] === 'timeout'))
})

t.test('keep-alive: one connection carries many requests, node connections are reused', async (t) => {
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.end('ok'))
  server.on('connection', (s) => sockets.add(s))
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const c = rawClient(p.port)
  for (let i = 1; i <= 20; i++) {
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    await c.until(`answer ${i}`, (s) => count(s, 'HTTP/1.1 200') === i && s.endsWith('ok'))
  }
  t.equal(sockets.size, 1, 'one connection to the node for 20 sequential requests')
  c.socket.destroy()
})

/** Resolve once value() has not changed for 300 ms (polled); reject after 5 s of movement. */
async function steady(value: () => number): Promise<void> {
  let last = -1
  let since = Date.now()
  await waitUntil(
    'a steady figure',
    () => {
      const v = value()
      if (v !== last) {
        last = v
        since = Date.now()
      }
      return Date.now() - since >= 300
    },
    5000,
    20,
  )
}

t.test('backpressure: a client that does not read holds the node back; a node that does not read holds the client back', async (t) => {
  let sentByNode = 0
  let nodeBlocked = false
  let readByNode = 0
  let nodeReq: http.IncomingMessage | undefined
  const chunk = Buffer.alloc(64 * 1024, 120)
  const server = http.createServer((req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) })
      const pump = () => {
        while (sentByNode < 64 * 1024 * 1024) {
          sentByNode += chunk.length
          if (!res.write(chunk)) {
            nodeBlocked = true
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    } else {
      // an upload the node reads only 1 MiB of, then stops reading
      nodeReq = req
      req.on('data', (c: Buffer) => {
        readByNode += c.length
        if (readByNode >= 1024 * 1024) req.pause()
      })
    }
  })
  const p = await startProxy({ x: [node('x', await listen(server))] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  // download: the client connects and never reads
  const lazy = net.connect(p.port, '127.0.0.1')
  lazy.on('error', () => undefined)
  lazy.pause()
  lazy.write('GET /download HTTP/1.1\r\nHost: a\r\n\r\n')
  await waitUntil('the node blocked on a full socket', () => nodeBlocked, 5000)
  await steady(() => sentByNode)
  t.ok(sentByNode < 32 * 1024 * 1024, `the node got only ${Math.round(sentByNode / 1048576)} MiB of 64 out, and no more while the client reads nothing`)
  // the proxy stopped reading the node once the client's queue passed MAX_QUEUED: at most one read more sits there
  const queued = Math.max(...[...p.server.connections].map((c) => c.socket.writableLength))
  t.ok(queued > 0 && queued <= MAX_QUEUED + READ_SIZE, `the proxy queues ${queued} bytes for the client, no more than ${MAX_QUEUED} and one read`)
  lazy.destroy()

  // upload: the client writes 64 MiB as fast as the proxy takes it
  const eager = net.connect(p.port, '127.0.0.1')
  eager.on('error', () => undefined)
  let written = 0
  let clientBlocked = false
  await new Promise<void>((resolve) => eager.on('connect', resolve))
  eager.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`)
  const push = () => {
    while (written < 64 * 1024 * 1024) {
      written += chunk.length
      if (!eager.write(chunk)) {
        clientBlocked = true
        eager.once('drain', push)
        return
      }
    }
  }
  push()
  await waitUntil('the node read its first MiB', () => readByNode >= 1024 * 1024, 5000)
  await waitUntil('the client blocked on a full socket', () => clientBlocked, 5000)
  await steady(() => written)
  t.ok(written < 32 * 1024 * 1024, `the client got only ${Math.round(written / 1048576)} MiB of 64 out, and no more while the node reads nothing`)
  t.ok(nodeReq !== undefined)
  eager.destroy()
})
