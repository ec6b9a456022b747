// A stream its first node refused (REFUSED_STREAM) after some of its body went is sent again
// with the body kept so far, once the next node's side can take it. The client's END_STREAM
// coming before then must wait for that body: ending the new attempt at once sent the next
// node a request with no body at all (an HTTP/1.1 node read Content-Length: 0, an h2 node
// END_STREAM), and the body written after it was lost. Found by test/h2/h2-fuzz.test.ts.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, END_STREAM, H2_PREFACE, h2Frame, HEADERS, hpackLiteral, RST_STREAM, REFUSED_STREAM, SETTINGS } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** POST / over http with :authority a (static 3, 4, 6). */
const H2_POST = Buffer.concat([Buffer.from([0x83, 0x84, 0x86]), hpackLiteral(':authority', 'a')])

interface Shared {
  refused: boolean
  /** sessions opened after the refusal send their SETTINGS once this resolves */
  gate: Promise<void>
  /** streams read to their END_STREAM: body bytes */
  whole: number[]
  /** sockets to close at the end */
  sockets: Set<net.Socket>
}

/** A node spoken by hand: refuses the first stream of all (after its first DATA), answers the others 200 once their body ends. */
async function node(shared: Shared): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer(async (s) => {
    shared.sockets.add(s)
    s.on('error', () => undefined)
    let buf = Buffer.alloc(0)
    let preface = false
    const bodies = new Map<number, number>()
    /** the node's SETTINGS went: frames are read (a SETTINGS ack before them is a protocol error) */
    let ready = false
    const frames = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (!ready) return
      if (!preface) {
        if (buf.length < H2_PREFACE.length) return
        buf = buf.subarray(H2_PREFACE.length)
        preface = true
      }
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3)
        if (buf.length < 9 + length) return
        const type = buf[3]!
        const flags = buf[4]!
        const stream = buf.readUInt32BE(5) & 0x7fffffff
        buf = buf.subarray(9 + length)
        if (type === SETTINGS && (flags & 1) === 0) s.write(h2Frame(SETTINGS, 1, 0))
        if (type === HEADERS) bodies.set(stream, 0)
        if (type === DATA && bodies.has(stream)) {
          bodies.set(stream, bodies.get(stream)! + length)
          if (!shared.refused) {
            shared.refused = true
            bodies.delete(stream)
            const code = Buffer.alloc(4)
            code.writeUInt32BE(REFUSED_STREAM)
            s.write(h2Frame(RST_STREAM, 0, stream, code))
            continue
          }
        }
        if ((type === DATA || type === HEADERS) && (flags & END_STREAM) !== 0 && bodies.has(stream)) {
          shared.whole.push(bodies.get(stream)!)
          bodies.delete(stream)
          // :status 200 (static 8)
          s.write(h2Frame(HEADERS, END_HEADERS | END_STREAM, stream, Buffer.from([0x88])))
        }
      }
    }
    s.on('data', frames)
    if (shared.refused) await shared.gate
    s.write(h2Frame(SETTINGS, 0, 0))
    ready = true
    frames(Buffer.alloc(0))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { port: (server.address() as net.AddressInfo).port, server }
}

t.test('to an h2 node: a stream sent again after REFUSED_STREAM: the next node gets the body kept, whole, when the client ended it meanwhile', async (t) => {
  let release = () => {}
  const shared: Shared = { refused: false, gate: new Promise<void>((r) => (release = r)), whole: [], sockets: new Set() }
  const a = await node(shared)
  const b = await node(shared)
  const c = await startTestCutover({
    x: [`{ url: "http://127.0.0.1:1", h2: "h2c://127.0.0.1:${a.port}" }`, `{ url: "http://127.0.0.1:2", h2: "h2c://127.0.0.1:${b.port}" }`],
    y: [],
    proxy: '  retries: 1',
  })
  const client = net.connect(c.cutover.proxyAddress.port, '127.0.0.1')
  client.on('error', () => undefined)
  let answered = false
  let clientBuf = Buffer.alloc(0)
  client.on('data', (d: Buffer) => {
    clientBuf = Buffer.concat([clientBuf, d])
    // a HEADERS frame on stream 1 starting with :status 200
    for (let at = 0; at + 9 <= clientBuf.length; ) {
      const length = clientBuf.readUIntBE(at, 3)
      if (clientBuf[at + 3] === HEADERS && (clientBuf.readUInt32BE(at + 5) & 0x7fffffff) === 1 && clientBuf[at + 9] === 0x88) answered = true
      at += 9 + length
    }
  })
  t.teardown(async () => {
    release()
    client.destroy()
    await c.cutover.close()
    for (const s of shared.sockets) s.destroy()
    await Promise.all([a, b].map((n) => new Promise((r) => n.server.close(r))))
  })
  await new Promise<void>((r) => client.once('connect', () => r()))
  const body = Buffer.alloc(100, 'b')
  client.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, H2_POST), h2Frame(DATA, 0, 1, body)]))
  await waitUntil('the first node refused the stream', () => shared.refused, 3000)
  // the client's END_STREAM while the next node's session is not up yet
  client.write(h2Frame(DATA, END_STREAM, 1))
  // (no event tells when cutover read it: a pause, after which the next session comes up;
  // with the fix the outcome is the same whichever comes first)
  await new Promise((r) => setTimeout(r, 100))
  release()
  await waitUntil('the next node read the stream whole', () => shared.whole.length > 0, 3000)
  t.same(shared.whole, [100], 'the next node read the whole body, once')
  await waitUntil('the client answered', () => answered, 3000)
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
})

t.test('to an HTTP/1.1 node: a stream sent again after REFUSED_STREAM waits in line for a connection; the client ends it meanwhile; the node gets the body kept, whole', async (t) => {
  const shared: Shared = { refused: false, gate: Promise.resolve(), whole: [], sockets: new Set() }
  const a = await node(shared)
  // the HTTP/1.1 node: holds /busy (its one connection) until told; records the others
  let free = () => {}
  const bodies: Array<{ length: string | undefined; body: number }> = []
  const b = http.createServer((req, res) => {
    if (req.url === '/busy') {
      free = () => res.end('busy')
      return
    }
    let body = 0
    req.on('data', (d: Buffer) => (body += d.length))
    req.on('end', () => {
      bodies.push({ length: req.headers['content-length'], body })
      res.end('ok')
    })
  })
  await new Promise<void>((r) => b.listen(0, '127.0.0.1', r))
  const bPort = (b.address() as net.AddressInfo).port
  // x: the h2 node that refuses; y: the HTTP/1.1 node, one connection at most (a retry goes to the other pool when its own has no node left)
  const c = await startTestCutover({
    x: [`{ url: "http://127.0.0.1:1", h2: "h2c://127.0.0.1:${a.port}" }`],
    y: [`http://127.0.0.1:${bPort}`],
    proxy: '  retries: 1\n  upstream_max_connections: 1',
    extra: 'split:\n  y: 0\n  override_header: x-cutover-pool\n',
  })
  const session = (await import('node:http2')).connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  session.on('error', () => undefined)
  const client = net.connect(c.cutover.proxyAddress.port, '127.0.0.1')
  client.on('error', () => undefined)
  let clientBuf = Buffer.alloc(0)
  client.on('data', (d: Buffer) => (clientBuf = Buffer.concat([clientBuf, d])))
  t.teardown(async () => {
    free()
    client.destroy()
    session.destroy()
    await c.cutover.close()
    for (const s of shared.sockets) s.destroy()
    b.closeAllConnections()
    await Promise.all([new Promise((r) => a.server.close(r)), new Promise((r) => b.close(r))])
  })
  // the HTTP/1.1 node's one connection busy
  const busy = session.request({ ':path': '/busy', 'x-cutover-pool': 'y' })
  busy.on('error', () => undefined)
  busy.resume()
  await waitUntil('the node holds /busy', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="y"}')) === 1, 3000)
  await new Promise<void>((r) => (client.readyState === 'open' ? r() : client.once('connect', () => r())))
  client.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, H2_POST), h2Frame(DATA, 0, 1, Buffer.alloc(100, 'b'))]))
  await waitUntil('the first node refused the stream', () => shared.refused, 3000)
  await waitUntil('the stream in line for the HTTP/1.1 node', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="y"}')) === 2, 3000)
  // the client's END_STREAM while the retry waits for a connection
  client.write(h2Frame(DATA, END_STREAM, 1))
  // (no event tells when cutover read it; with the fix the outcome is the same whichever comes first)
  await new Promise((r) => setTimeout(r, 100))
  free()
  await waitUntil('the HTTP/1.1 node read the request', () => bodies.length > 0, 3000)
  t.same(bodies, [{ length: undefined, body: 100 }], 'the whole body, chunked (no Content-Length: 0)')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="y"}')) === 0, 3000)
})
