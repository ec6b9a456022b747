import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import type { Tunnel } from '../../src/forwarding/tunnel.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { close, closedPort, listen, node, startProxy, type TestProxy } from './fixtures.js'

/** An upgrade echo server: answers 101 with what it saw, then echoes bytes. */
async function echoServer(): Promise<{ port: number; server: http.Server; closed: Promise<void> }> {
  let closedResolve!: () => void
  const closed = new Promise<void>((r) => (closedResolve = r))
  const server = http.createServer((_req, res) => res.end('plain'))
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno')
      return
    }
    const xff = req.headers['x-forwarded-for']
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Saw-XFF: ${xff}\r\nX-Saw-Host: ${req.headers.host}\r\nX-Saw-Connection: ${req.headers.connection}\r\n\r\n`,
    )
    if (head.length) socket.write(head)
    socket.pipe(socket)
    socket.on('close', closedResolve)
    socket.on('error', () => {})
  })
  return { port: await listen(server), server, closed }
}

/** Open a raw connection, send an upgrade head, resolve with the socket and what came back first. */
function rawUpgrade(port: number, path: string, extra = ''): Promise<{ socket: net.Socket; first: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ws.kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n${extra}`,
      )
    })
    let buf = ''
    const onData = (c: Buffer) => {
      buf += c.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end >= 0) {
        socket.off('data', onData)
        resolve({ socket, first: buf })
      }
    }
    socket.on('data', onData)
    socket.on('error', reject)
  })
}

function readSome(socket: net.Socket, n: number): Promise<string> {
  return new Promise((resolve) => {
    let s = ''
    const onData = (c: Buffer) => {
      s += c.toString('latin1')
      if (s.length >= n) {
        socket.off('data', onData)
        resolve(s)
      }
    }
    socket.on('data', onData)
  })
}

t.test('a WebSocket upgrade is tunnelled both ways', async (t) => {
  const echo = await echoServer()
  const n = node('x', echo.port)
  const p = await startProxy({ x: [n] })
  t.teardown(async () => {
    await p.close()
    await close(echo.server)
  })
  const { socket, first } = await rawUpgrade(p.port, '/ws?room=1', 'early')
  t.match(first, /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  t.match(first, /X-Saw-XFF: 127\.0\.0\.1\r\n/)
  t.match(first, /X-Saw-Host: ws\.kong\.test\r\n/)
  t.match(first, /X-Saw-Connection: Upgrade\r\n/)
  // bytes sent with the head came back after the 101
  const early = first.slice(first.indexOf('\r\n\r\n') + 4)
  const rest = early.length >= 5 ? early : early + (await readSome(socket, 5 - early.length))
  t.equal(rest, 'early')
  socket.write('ping-1')
  t.equal(await readSome(socket, 6), 'ping-1')
  await p.sink.waitFinished(1)
  t.same(p.sink.calls.slice(0, 3), [
    ['attemptStarted', n.name],
    ['answered', n.name, 101],
    ['finished', 'x', 101],
  ])
  // the client closing closes the upstream side
  socket.destroy()
  await echo.closed
  for (let i = 0; i < 100 && n.inflight > 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal(n.inflight, 0)
  t.same(p.sink.calls.at(-1), ['attemptEnded', n.name])
})

t.test('a refusal passes through; the upstream closing closes the client', async (t) => {
  const echo = await echoServer()
  const p = await startProxy({ x: [node('x', echo.port)] })
  t.teardown(async () => {
    await p.close()
    await close(echo.server)
  })
  const { socket, first } = await rawUpgrade(p.port, '/refuse')
  t.match(first, /^HTTP\/1\.1 403 Forbidden\r\n/)
  await new Promise<void>((resolve) => socket.on('close', () => resolve()))
  t.pass('client closed')
})

t.test('502 before any answer, 503 with no node', async (t) => {
  const p = await startProxy({ x: [node('x', await closedPort())], proxy: { retries: 0 } })
  t.teardown(() => p.close())
  let { socket, first } = await rawUpgrade(p.port, '/ws')
  t.match(first, /^HTTP\/1\.1 502 Bad Gateway\r\n/)
  t.match(first, /content-type: application\/json/)
  socket.destroy()
  p.router.table = buildRoutingTable(0, { x: [], y: [] }, () => true, { y: 0 })
  ;({ socket, first } = await rawUpgrade(p.port, '/ws'))
  t.match(first, /^HTTP\/1\.1 503 /)
  socket.destroy()
})

/** A node that answers the upgrade 101 and hands its socket over; the test says what it sends next. */
async function upgradingNode(): Promise<{ port: number; sockets: net.Socket[]; close(): Promise<void> }> {
  const sockets: net.Socket[] = []
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined)
    socket.once('data', () => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
      sockets.push(socket)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** The proxy's one open tunnel. */
function openTunnel(p: TestProxy): Promise<Tunnel> {
  return waitUntil('the tunnel open', () => [...p.forwarder.longLived][0] as Tunnel | undefined, 3000)
}

type WriteImpl = {
  _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void
  _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void
}

/** Hold what the proxy writes to its client until release(): the writes wait as they do for a slow reader whose socket buffers are full. */
function holdWrites(socket: net.Socket): { release(): void } {
  const s = socket as unknown as WriteImpl
  const { _write: write, _writev: writev } = s
  const held: Array<() => void> = []
  s._write = (chunk, encoding, cb) => held.push(() => write.call(s, chunk, encoding, cb))
  s._writev = (chunks, cb) => held.push(() => writev.call(s, chunks, cb))
  return {
    release() {
      s._write = write
      s._writev = writev
      for (const go of held.splice(0)) go()
    },
  }
}

t.test('the node ends the tunnel: its last bytes reach a slow reader before the end; a reader that takes nothing is cut after idle_timeout', async (t) => {
  const n = await upgradingNode()
  const p = await startProxy({ x: [node('x', n.port)], proxy: { idle_timeout: 300 } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const last = Buffer.alloc(4096, 'w')
  for (const reads of [true, false]) {
    const { socket } = await rawUpgrade(p.port, '/ws')
    let got = 0
    let how = ''
    socket.on('data', (c: Buffer) => (got += c.length))
    socket.on('end', () => (how ||= 'FIN'))
    socket.on('error', (err: NodeJS.ErrnoException) => (how ||= err.code ?? 'error'))
    const tunnel = await openTunnel(p)
    const upstream = tunnel.conn!.socket
    const client = tunnel.client.socket
    const held = holdWrites(client)
    n.sockets.at(-1)!.end(last)
    await waitUntil("the node's connection closed", () => upstream.destroyed, 3000)
    if (reads) {
      held.release()
      await waitUntil('the client connection closed', () => client.destroyed, 3000)
      await waitUntil('the client saw the end', () => how !== '', 3000)
      t.equal(got, last.length, 'every byte the node sent')
      t.equal(how, 'FIN', 'then a clean end')
    } else {
      // the bytes stand still: the connection is cut, not held for ever
      await waitUntil('the client connection cut', () => client.destroyed, 3000)
      t.equal(got, 0)
      socket.destroy()
    }
  }
})

t.test('a client that ends its side before the upgrade is answered has gone away: both connections close', async (t) => {
  const seen: net.Socket[] = []
  let nodeClosed = false
  // a node that reads the upgrade and never answers it
  const silent = net.createServer((socket) => {
    socket.on('error', () => undefined)
    socket.on('close', () => (nodeClosed = true))
    socket.once('data', () => seen.push(socket))
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const p = await startProxy({ x: [node('x', (silent.address() as net.AddressInfo).port)] })
  t.teardown(async () => {
    await p.close()
    for (const socket of seen) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let closed = false
  socket.on('error', () => undefined)
  socket.on('close', () => (closed = true))
  socket.write('GET /ws HTTP/1.1\r\nHost: ws.kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  await waitUntil('the node has the upgrade', () => seen.length === 1, 3000)
  socket.end()
  await waitUntil('the client connection closed', () => closed, 3000)
  await waitUntil("the node's connection closed", () => nodeClosed, 3000)
  await p.sink.waitFinished(1)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'finished'),
    [['finished', 'x', 499]],
    'counted as a client gone',
  )
})

t.test('an upgrade retried after its node cut the answer in the middle of the head: the client reads the next node’s answer alone', async (t) => {
  // the first node's half head (with a cookie of its own) must not be read as the start of the second's
  const first = await startRawServer((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 401 Unauthorized\r\nSet-Cookie: session=from-the-failed-node\r\nX-Half: ')
      setTimeout(() => s.resetAndDestroy(), 30)
    }),
  )
  const second = await startRawServer((s) => s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Node: second\r\n\r\n')))
  const p = await startProxy({ x: [node('x', first.port)], y: [node('y', second.port)], proxy: { retries: 1 } })
  t.teardown(async () => {
    await p.close()
    await first.close()
    await second.close()
  })
  const c = net.connect(p.port, '127.0.0.1')
  t.teardown(() => c.destroy())
  let text = ''
  c.on('data', (d: Buffer) => (text += d.toString('latin1')))
  c.on('error', () => undefined)
  c.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  await waitUntil('an answer', () => text.includes('\r\n\r\n') || c.destroyed, 3000)
  t.equal(text, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Node: second\r\n\r\n')
})
