// proxy.idle_timeout: once an answer's head is relayed, its body must keep moving. A node
// that stops sending it is cut and counted a timeout (as nginx's proxy_read_timeout); a
// client that stops taking it is cut without blaming the node (nginx's send_timeout); a
// body that moves, however slowly overall, is never cut, and neither is a client that takes
// its backlog slowly.
import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import { FakeClock } from '../../src/clock.js'
import { MAX_QUEUED } from '../../src/forwarding/exchange.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { close, listen, node, startProxy, type TestProxy } from './fixtures.js'
import { waitUntil } from '../helpers/wait.js'

/** A raw node: on each request head, run answer(socket). */
async function rawNode(answer: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
    let head = ''
    s.on('data', (d) => {
      head += d.toString('latin1')
      if (head.includes('\r\n\r\n')) {
        head = ''
        answer(s)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** One GET on a raw connection; resolves with what came back and when the proxy closed it. */
function get(port: number): { socket: net.Socket; text: () => string; closed: Promise<number> } {
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.on('error', () => undefined)
  socket.write('GET / HTTP/1.1\r\nHost: kong.test\r\n\r\n')
  const closed = new Promise<number>((r) => socket.on('close', () => r(performance.now())))
  return { socket, text: () => text, closed }
}

const IDLE = 300

/** The exchange ended with status, the client's doing: no failure counted against node x, whose connection closed. */
async function notBlamed(t: Test, p: TestProxy, x: UpstreamNode, status: number, closedWhat: string): Promise<void> {
  await p.sink.waitFinished(1)
  t.notOk(
    p.sink.calls.some((call) => call[0] === 'attemptFailed'),
    'no failure counted against the node',
  )
  t.same(
    p.sink.calls.filter((call) => call[0] === 'finished'),
    [['finished', 'x', status]],
  )
  await waitUntil(closedWhat, () => x.inflight === 0 && x.dispatcher.open === 0, 3000)
}

t.test('a node that stops sending its body is cut after idle_timeout and counted a timeout', async (t) => {
  const n = await rawNode((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst-ten!'))
  const x = node('x', n.port)
  const p = await startProxy({ x: [x], proxy: { idle_timeout: IDLE } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const started = performance.now()
  const c = get(p.port)
  await waitUntil('the head and the first bytes', () => c.text().endsWith('first-ten!'), 3000)
  const closedAt = await c.closed
  t.ok(closedAt - started >= IDLE - 50, `not cut before idle_timeout (${Math.round(closedAt - started)} ms)`)
  t.match(c.text(), /^HTTP\/1\.1 200 OK\r\n/)
  t.ok(c.text().endsWith('first-ten!'), 'the client saw the answer cut short: 10 of 100 bytes, then the close')
  await p.sink.waitFinished(1)
  t.ok(
    p.sink.calls.some((call) => call[0] === 'attemptFailed' && call[2] === 'timeout'),
    'the node is blamed: a timeout',
  )
  await waitUntil('the attempt ended', () => x.inflight === 0 && x.dispatcher.open === 0, 3000)
})

t.test('a body that keeps moving is not cut, however long it takes in all', async (t) => {
  // the node writes a piece each time the test says; the fake clock moves 100 ms between pieces
  let nodeSocket: net.Socket | undefined
  const n = await rawNode((s) => {
    nodeSocket = s
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
  })
  const clock = new FakeClock()
  const p = await startProxy({ x: [node('x', n.port)], clock, proxy: { idle_timeout: 1000 } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const c = get(p.port)
  const pieces = () => (c.text().match(/1\r\n\.\r\n/g) ?? []).length
  await waitUntil('the head', () => c.text().includes('\r\n\r\n') && nodeSocket !== undefined, 3000)
  for (let i = 1; i <= 15; i++) {
    clock.advance(100)
    nodeSocket?.write('1\r\n.\r\n')
    await waitUntil(`piece ${i} relayed`, () => pieces() === i || c.socket.destroyed, 3000, 2)
  }
  nodeSocket?.write('0\r\n\r\n')
  await waitUntil('the whole chunked body', () => c.text().endsWith('0\r\n\r\n') || c.socket.destroyed, 3000)
  t.equal(pieces(), 15, 'fifteen pieces, 100 ms apart: 1.5 idle_timeouts in all')
  t.ok(c.text().endsWith('0\r\n\r\n'), 'the body whole')
  t.notOk(c.socket.destroyed, 'the connection is still open')
  await p.sink.waitFinished(1)
  t.notOk(p.sink.calls.some((call) => call[0] === 'attemptFailed'))
  c.socket.destroy()
})

const GIGABYTE = 1024 * 1024 * 1024

/** A node that answers a gigabyte, written as fast as the proxy takes it: far more than every socket buffer on the way holds. */
function gigabyteNode(): Promise<{ port: number; close(): Promise<void> }> {
  const piece = Buffer.alloc(256 * 1024, 0x61)
  return rawNode((s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${GIGABYTE}\r\n\r\n`)
    let sent = 0
    const pump = () => {
      while (!s.destroyed && sent < GIGABYTE) {
        sent += piece.length
        if (!s.write(piece)) return
      }
    }
    s.on('drain', pump)
    pump()
  })
}

t.test('a client that stops taking the answer is cut after idle_timeout; the node is not blamed', async (t) => {
  const n = await gigabyteNode()
  const x = node('x', n.port)
  const p = await startProxy({ x: [x], proxy: { idle_timeout: IDLE } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let bytes = 0
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  socket.on('error', () => undefined)
  // the client reads the first bytes, then takes nothing more
  socket.once('data', () => socket.pause())
  socket.on('data', (d: Buffer) => (bytes += d.length))
  socket.write('GET / HTTP/1.1\r\nHost: kong.test\r\n\r\n')
  await notBlamed(t, p, x, 200, "the node's connection closed, not pooled")
  // reading again, the client finds its connection cut short
  socket.resume()
  await closed
  t.ok(bytes < GIGABYTE, `cut before the end (${bytes} of ${GIGABYTE} bytes)`)
})

/** A node that reads each request's body whole, then answers its length (or, with silent, never answers); received: body bytes so far. */
async function bodyNode(silent = false): Promise<{ port: number; server: http.Server; received: () => number }> {
  let received = 0
  const server = http.createServer((req, res) => {
    let n = 0
    req.on('data', (d: Buffer) => {
      n += d.length
      received += d.length
    })
    req.on('end', () => {
      if (!silent) res.end(String(n))
    })
  })
  return { port: await listen(server), server, received: () => received }
}

/** A raw upload of size bytes: the head, then one byte every gapMs, stopping after sendBytes. */
function slowUpload(port: number, size: number, gapMs: number, sendBytes = size): { text: () => string; closed: Promise<void>; stop(): void } {
  const up = upload(port, size)
  let sent = 0
  const tick = setInterval(() => {
    if (sent >= sendBytes || up.socket.destroyed) return clearInterval(tick)
    up.socket.write('b')
    sent++
  }, gapMs)
  const stop = () => {
    clearInterval(tick)
    up.socket.destroy()
  }
  return { text: up.text, closed: up.closed, stop }
}

/** A raw upload of size bytes: the head now, the body as the test writes it. */
function upload(port: number, size: number): { socket: net.Socket; text: () => string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  socket.write(`POST /upload HTTP/1.1\r\nHost: kong.test\r\nContent-Length: ${size}\r\n\r\n`)
  return { socket, text: () => text, closed }
}

/** Each byte of the body written 100 ms (fake) after the last, once the node has the one before. */
async function uploadByteByByte(up: { socket: net.Socket }, n: { received: () => number }, clock: FakeClock, size: number): Promise<void> {
  for (let i = 1; i <= size; i++) {
    clock.advance(100)
    up.socket.write('b')
    await waitUntil(`byte ${i} at the node`, () => n.received() === i || up.socket.destroyed, 3000, 2)
  }
}

t.test('an upload that keeps moving may take longer than request_timeout, which counts from its end', async (t) => {
  const n = await bodyNode()
  const clock = new FakeClock()
  const p = await startProxy({ x: [node('x', n.port)], clock, proxy: { request_timeout: 300, idle_timeout: 1000 } })
  const up = upload(p.port, 15)
  t.teardown(async () => {
    up.socket.destroy()
    await p.close()
    await close(n.server)
  })
  await uploadByteByByte(up, n, clock, 15)
  await waitUntil('the answer', () => up.text().endsWith('\r\n\r\n15') || up.socket.destroyed, 5000)
  t.match(up.text(), /^HTTP\/1\.1 200 OK\r\n/, '1.5 s of upload, request_timeout 300 ms: answered')
  t.ok(up.text().endsWith('\r\n\r\n15'), 'the whole body reached the node')
})

t.test('a client that stops sending its body gets 408 after idle_timeout; the node is not blamed', async (t) => {
  const n = await bodyNode()
  const x = node('x', n.port)
  const p = await startProxy({ x: [x], proxy: { idle_timeout: IDLE } })
  const up = slowUpload(p.port, 100, 10, 5)
  t.teardown(async () => {
    up.stop()
    await p.close()
    await close(n.server)
  })
  await up.closed
  t.match(up.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(up.text(), /\r\nconnection: close\r\n/i)
  t.match(up.text(), /request body stopped arriving/)
  await notBlamed(t, p, x, 408, "the node's half-sent connection closed")
})

t.test('a node that takes the whole body and never answers: 504 after request_timeout from the end of the body', async (t) => {
  const n = await bodyNode(true)
  const clock = new FakeClock()
  const p = await startProxy({ x: [node('x', n.port)], clock, proxy: { request_timeout: 300, idle_timeout: 1000, retries: 0 } })
  const up = upload(p.port, 5)
  t.teardown(async () => {
    up.socket.destroy()
    await p.close()
    await close(n.server)
  })
  // the body takes 500 ms, longer than request_timeout: not cut while it moves
  await uploadByteByByte(up, n, clock, 5)
  clock.advance(299)
  t.notOk(
    p.sink.calls.some((call) => call[0] !== 'attemptStarted'),
    'no answer, no failure before request_timeout from the end of the body',
  )
  // deadlines are looked at every tick (a quarter of request_timeout here, 75 ms)
  clock.advance(100)
  await waitUntil('the answer', () => up.text().includes('\r\n\r\n'), 5000)
  t.match(up.text(), /^HTTP\/1\.1 504 Gateway Timeout\r\n/)
})

t.test('a client that takes its backlog slowly is not cut while the backlog shrinks; one that takes nothing of it is', async (t) => {
  // cutover stops reading the node once the client's queue is full
  const n = await gigabyteNode()
  const x = node('x', n.port)
  const clock = new FakeClock()
  const p = await startProxy({ x: [x], clock, proxy: { idle_timeout: IDLE } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => undefined)
  socket.pause() // reads nothing: the kernel's buffers fill, then cutover's queue
  socket.write('GET / HTTP/1.1\r\nHost: kong.test\r\n\r\n')
  const conn = await waitUntil(
    'cutover stopped reading the node: the client’s queue is full',
    () => {
      const c = [...p.server.connections][0]
      return c !== undefined && c.unsent() > MAX_QUEUED ? c : undefined
    },
    5000,
  )
  // On a real network the kernel takes a slow reader's backlog a window at a time; on
  // loopback its buffers are larger than cutover's queue, so this stands in for it: the
  // backlog as cutover sees it, less what the kernel took since.
  const queued = conn.unsent.bind(conn)
  let taken = 0
  conn.unsent = () => queued() - taken
  await waitUntil(
    'the queue stands still',
    async () => {
      const before = queued()
      await new Promise((r) => setTimeout(r, 20))
      return queued() === before
    },
    5000,
  )
  for (let look = 1; look <= 3; look++) {
    taken += 4096
    clock.advance(IDLE + 1)
    t.notOk(conn.socket.destroyed, `idle_timeout ${look}: 4 KiB more of the backlog went, the client is not cut`)
  }
  clock.advance(IDLE + 1)
  t.ok(conn.socket.destroyed, 'an idle_timeout in which nothing went: cut')
  await notBlamed(t, p, x, 200, "the node's connection closed, not pooled")
})
