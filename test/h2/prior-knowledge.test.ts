// h2c with prior knowledge on the HTTP/1.1 listener: a client that opens with HTTP/2's
// preface is served HTTP/2 on the same port (as nginx's `http2 on` does), gRPC included.
import * as grpc from '@grpc/grpc-js'
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import t from 'tap'
import { request } from 'undici'
import { startTestCutover } from '../helpers/cutover.js'
import { callUnary, echoClient, startEchoServer } from '../helpers/grpc.js'
import { h2Request, tlsFiles } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'

/** Raw bytes to port; everything the server sent until it closed (or ms passed). */
function exchangeRaw(port: number, pieces: string[], ms = 2000): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const s = net.connect(port, '127.0.0.1', async () => {
      for (const p of pieces) {
        s.write(p, 'latin1')
        await new Promise((r) => setTimeout(r, 20))
      }
    })
    const timer = setTimeout(() => s.destroy(), ms)
    s.on('data', (d) => chunks.push(d))
    s.on('error', () => undefined)
    s.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks))
    })
  })
}

t.test('an h2 client with prior knowledge is served on the HTTP/1.1 port, beside HTTP/1.1 clients', async (t) => {
  const x = await startUpstream('x1')
  const c = await startTestCutover({ x: [x.url], y: [] })
  const port = c.cutover.proxyAddress.port
  const session = http2.connect(`http://127.0.0.1:${port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await x.close()
  })
  t.equal(c.cutover.h2cAddress, undefined, 'no h2c_listen configured')
  for (let i = 0; i < 3; i++) {
    const r = await h2Request(session, { ':path': `/h2/${i}` })
    t.equal(r.status, 200)
    t.match(JSON.parse(r.body), { upstream: 'x1', path: `/h2/${i}` })
  }
  const r = await h2Request(session, { ':path': '/upload', ':method': 'POST' }, Buffer.alloc(200_000, 1))
  t.equal(r.status, 200, 'a body larger than the first read goes through')
  const h1 = await request(`${c.proxyUrl}/h1`)
  t.match(JSON.parse(await h1.body.text()), { upstream: 'x1', path: '/h1' })
})

t.test('a gRPC client pointed at the HTTP/1.1 port is served', async (t) => {
  let fail = false
  const x = await startEchoServer('x1', { fail: () => (fail ? grpc.status.INVALID_ARGUMENT : undefined) })
  const c = await startTestCutover({ x: [`{ url: http://127.0.0.1:${x.port}, h2: "h2c://127.0.0.1:${x.port}" }`], y: [] })
  const client = echoClient(`127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await x.close()
  })
  const r = await callUnary(client, { n: 7 })
  t.equal(r.err, undefined)
  t.equal(r.res?.n, 14, 'the echo doubles n')
  fail = true
  const bad = await callUnary(client, { n: 8 })
  t.equal(bad.err?.code, grpc.status.INVALID_ARGUMENT, "the node's own status comes through")
})

t.test('the preface in pieces is still h2; after an HTTP/1.1 request it is refused', async (t) => {
  const x = await startUpstream('x1')
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  const port = c.cutover.proxyAddress.port
  // the first 16 bytes decide; the rest and the SETTINGS frame come later
  const got = await exchangeRaw(port, ['PRI * HT', 'TP/2.0\r\n', '\r\nSM\r\n\r\n', '\x00\x00\x00\x04\x00\x00\x00\x00\x00'], 500)
  // a server's preface is a SETTINGS frame: type 4 on stream 0
  t.equal(got[3], 4, 'the server answered with HTTP/2 SETTINGS')
  t.notOk(got.toString('latin1').startsWith('HTTP/1.1'))

  const after = await exchangeRaw(port, [`GET / HTTP/1.1\r\nHost: a\r\n\r\n`, PREFACE])
  const text = after.toString('latin1')
  t.match(text, /^HTTP\/1\.1 200 /)
  t.match(text, /HTTP\/1\.1 400 Bad Request[\s\S]*unknown method/, 'HTTP/2 cannot start mid-connection')
})

t.test('draining: an h2 session taken on the HTTP/1.1 port ends with the others', async (t) => {
  const x = await startUpstream('x1')
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(() => x.close())
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  session.on('error', () => undefined)
  const r = await h2Request(session, { ':path': '/' })
  t.equal(r.status, 200)
  let closed = false
  session.on('close', () => {
    closed = true
  })
  await c.cutover.close()
  t.ok(await waitUntil('the idle h2 session closed by the drain', () => closed, 5000))
})

t.test('a client that leaves while its answer streams is noticed (prior knowledge and TLS): its node work ends, nothing stays in flight', async (t) => {
  const open = new Set<import('node:http').ServerResponse>()
  const x = await startUpstream('x1', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    open.add(res)
    const timer = setInterval(() => res.write('data: x\n\n'), 50)
    res.on('close', () => {
      clearInterval(timer)
      open.delete(res)
    })
  })
  const files = tlsFiles()
  const plain = await startTestCutover({ x: [x.url], y: [] })
  const secure = await startTestCutover({ x: [x.url], y: [], proxy: `  tls: { cert: ${files.cert}, key: ${files.key} }` })
  t.teardown(async () => {
    await plain.cutover.close()
    await secure.cutover.close()
    await x.close()
  })
  for (const [what, c, connect] of [
    ['prior knowledge on the HTTP/1.1 port', plain, (port: number) => net.connect(port, '127.0.0.1')],
    ['TLS with ALPN h2', secure, (port: number) => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'] })],
  ] as const) {
    let socket: net.Socket | undefined
    const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`, {
      createConnection: () => {
        socket = connect(c.cutover.proxyAddress.port)
        return socket
      },
    })
    session.on('error', () => undefined)
    const req = session.request({ ':path': '/events' })
    req.on('error', () => undefined)
    await new Promise((resolve) => req.once('data', resolve))
    t.equal(open.size, 1, `${what}: the node streams`)
    // the client's machine goes away: its socket closes, nothing more is said
    socket!.destroy()
    await waitUntil(`${what}: the node's answer ended`, () => open.size === 0, 5000)
    await waitUntil(`${what}: nothing in flight`, async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 5000)
  }
})
