// Plain-TCP client sockets read into one buffer shared by every connection
// (forwarding/client-connection.ts, SHARED_READ; proxy-server.ts makes the sockets with
// `onread`). Whatever a read leaves behind must be copied out before another connection's
// read lands in the same buffer: a partial head, pipelined requests, the start of a body
// waiting for a node connection; and a body's later reads must go into buffers of their own
// while the node socket still queues them. Each case below has other clients read in
// between, so a byte kept in the shared buffer would be overwritten.
import t, { type Test } from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { waitUntil } from '../helpers/wait.js'
import { listen, node, startProxy, type TestProxy } from './fixtures.js'

/** Responses read off a raw socket: Content-Length framed, bodies as strings. */
function readResponses(socket: net.Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const bodies: string[] = []
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        const m = /\r\ncontent-length: *(\d+)/i.exec(head)
        if (m === null) {
          reject(new Error(`no content-length in ${head}`))
          return
        }
        const length = Number(m[1])
        if (buf.length < end + 4 + length) return
        bodies.push(buf.subarray(end + 4, end + 4 + length).toString('latin1'))
        buf = buf.subarray(end + 4 + length)
        if (bodies.length === count) {
          socket.off('data', onData)
          resolve(bodies)
          return
        }
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => reject(new Error(`closed after ${bodies.length} of ${count} responses`)))
  })
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  return socket
}

/**
 * other clients' whole requests, read by the proxy into the shared buffer meanwhile;
 * with bodyBytes, uploads that fill most of it
 */
async function otherClients(port: number, n: number, bodyBytes = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = await connect(port)
      const answer = readResponses(s, 1)
      const method = bodyBytes > 0 ? 'POST' : 'GET'
      const head = `${method} /other-${'o'.repeat(200)}-${i} HTTP/1.1\r\nHost: other\r\nX-Other: ${'q'.repeat(500)}\r\n`
      s.write(bodyBytes > 0 ? `${head}Content-Length: ${bodyBytes}\r\n\r\n${'o'.repeat(bodyBytes)}` : `${head}\r\n`)
      const [body] = await answer
      s.destroy()
      if (!body!.startsWith(`${method} /other-`)) throw new Error(`other client got ${body}`)
    }),
  )
}

/** A node that answers with its request's method, target and the SHA-256 of its body; /gated waits for release(). */
async function echoNode(t: Test): Promise<{ port: number; release: () => void; gatedArrived: () => boolean }> {
  let open: (() => void) | null = null
  let arrived = false
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256')
    req.on('data', (d: Buffer) => hash.update(d))
    req.on('end', async () => {
      if (req.url === '/gated') {
        arrived = true
        await gate
      }
      const body = `${req.method} ${req.url} ${hash.digest('hex')}`
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.keepAliveTimeout = 30_000
  const port = await listen(server)
  t.teardown(() => {
    open!()
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port, release: () => open!(), gatedArrived: () => arrived }
}

async function proxyFor(t: Test, port: number, max?: number): Promise<TestProxy> {
  const proxy = await startProxy({ x: [node('x', port, 1, { connectTimeout: 1000, headersTimeout: 5000, maxConnections: max ?? 64 })] })
  t.teardown(() => proxy.close())
  return proxy
}

const EMPTY_SHA = createHash('sha256').digest('hex')

t.test('plain-TCP client sockets read through onread, not data events', async (t) => {
  const up = await echoNode(t)
  const proxy = await proxyFor(t, up.port)
  const s = await connect(proxy.port)
  t.teardown(() => s.destroy())
  const answer = readResponses(s, 1)
  s.write('GET /one HTTP/1.1\r\nHost: t\r\n\r\n')
  t.same(await answer, [`GET /one ${EMPTY_SHA}`])
  const conn = [...proxy.server.connections][0]!
  t.equal(conn.socket.listenerCount('data'), 0, 'no data listener: reads come through CLIENT_ONREAD')
})

t.test('a partial head survives other connections reading in between', async (t) => {
  const up = await echoNode(t)
  const proxy = await proxyFor(t, up.port)
  const a = await connect(proxy.port)
  t.teardown(() => a.destroy())
  const path = `/mine-${'a'.repeat(300)}`
  const answer = readResponses(a, 1)
  a.write(`GET ${path} HTTP/1.1\r\nHost: mine\r\nX-Pad: `)
  await waitUntil('the partial head is held', () => [...proxy.server.connections].some((c) => c.buf !== null), 5000)
  await otherClients(proxy.port, 8)
  a.write('end\r\n\r\n')
  t.same(await answer, [`GET ${path} ${EMPTY_SHA}`])
})

t.test('pipelined requests held while the first is answered are their own bytes', async (t) => {
  const up = await echoNode(t)
  const proxy = await proxyFor(t, up.port)
  const a = await connect(proxy.port)
  t.teardown(() => a.destroy())
  const answer = readResponses(a, 3)
  a.write(`GET /gated HTTP/1.1\r\nHost: a\r\n\r\nGET /second-${'b'.repeat(400)} HTTP/1.1\r\nHost: a\r\n\r\nGET /third HTTP/1.1\r\nHost: a\r\n\r\n`)
  await waitUntil('the first request reached the node', up.gatedArrived, 5000)
  await otherClients(proxy.port, 8)
  up.release()
  t.same(await answer, [`GET /gated ${EMPTY_SHA}`, `GET /second-${'b'.repeat(400)} ${EMPTY_SHA}`, `GET /third ${EMPTY_SHA}`])
})

t.test("a body's start that waits for a node connection is its own bytes", async (t) => {
  const up = await echoNode(t)
  // one connection to the node, taken by the gated request: the upload waits for it
  const proxy = await proxyFor(t, up.port, 1)
  const c = await connect(proxy.port)
  const a = await connect(proxy.port)
  t.teardown(() => {
    c.destroy()
    a.destroy()
  })
  const gated = readResponses(c, 1)
  c.write('GET /gated HTTP/1.1\r\nHost: c\r\n\r\n')
  await waitUntil('the gated request reached the node', up.gatedArrived, 5000)
  const body = randomBytes(3000)
  const answer = readResponses(a, 1)
  a.write(Buffer.concat([Buffer.from(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`), body]))
  await waitUntil('the upload waits with its body held', () => [...proxy.server.connections].some((conn) => conn.exchange !== null && conn.buf !== null), 5000)
  // these wait for the node connection too, but their heads are read into the shared buffer now
  const others = otherClients(proxy.port, 4)
  await waitUntil('the other clients are read', () => proxy.server.connections.size >= 6 && [...proxy.server.connections].filter((conn) => conn.exchange !== null).length >= 6, 5000)
  up.release()
  await gated
  t.same(await answer, [`POST /upload ${createHash('sha256').update(body).digest('hex')}`])
  await others
})

t.test('upload bytes queued for a node that reads nothing stay the client bytes while other clients are read', async (t) => {
  const sent = createHash('sha256')
  const received = createHash('sha256')
  let nodeReq: http.IncomingMessage | null = null
  const server = http.createServer((req, res) => {
    if (req.url !== '/big') {
      req.resume()
      req.on('end', () => {
        const body = `${req.method} ${req.url}`
        res.writeHead(200, { 'content-length': body.length })
        res.end(body)
      })
      return
    }
    // reads nothing until the test resumes it: the proxy's node socket queues the upload
    req.pause()
    nodeReq = req
    req.on('data', (d: Buffer) => received.update(d))
    req.on('end', () => {
      const body = received.digest('hex')
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  const port = await listen(server)
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const proxy = await proxyFor(t, port)
  const a = await connect(proxy.port)
  t.teardown(() => a.destroy())
  const SIZE = 32 * 1024 * 1024
  const answer = readResponses(a, 1)
  a.write(`POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${SIZE}\r\n\r\n`)
  const writing = (async () => {
    let left = SIZE
    while (left > 0) {
      const piece = randomBytes(Math.min(64 * 1024, left))
      left -= piece.length
      sent.update(piece)
      if (!a.write(piece)) await new Promise((resolve) => a.once('drain', resolve))
    }
  })()
  // both kernel buffers full: the proxy holds upload bytes in its node socket's queue
  await waitUntil('upload bytes queued in the proxy', () => [...proxy.server.connections].some((c) => (c.exchange?.conn?.socket.writableLength ?? 0) > 0), 30_000)
  // uploads of their own: their first reads fill most of the shared buffer
  await otherClients(proxy.port, 4, 60_000)
  nodeReq!.resume()
  await writing
  t.same(await answer, [sent.digest('hex')])
})
