// proxy.proxy_protocol: cutover behind a TCP balancer that sends a PROXY header (v1 or v2)
// first on every connection, on a real cutover: the client address it names is the one the
// node sees in X-Forwarded-For, over HTTP/1.1, TLS, h2c on the HTTP/1.1 port and h2c_listen;
// a connection without a valid header is closed without an answer and counted.
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import t, { type Test } from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { h2Request, tlsFiles } from '../helpers/h2.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const v1 = (source: string) => Buffer.from(`PROXY ${source.includes(':') ? 'TCP6' : 'TCP4'} ${source} ${source.includes(':') ? '::1' : '127.0.0.1'} 50000 8080\r\n`)
/** v2 PROXY over TCP6 from 2001:db8::7, with a TLV after the addresses */
const V2_TCP6 = Buffer.concat([
  SIG,
  Buffer.from([0x21, 0x21, 0x00, 42]),
  Buffer.from('20010db8000000000000000000000007', 'hex'),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from([0xc3, 0x50, 0x1f, 0x90]),
  Buffer.from([0x05, 0x00, 0x03, 0x61, 0x62, 0x63]),
])
/** v2 LOCAL: the balancer's own health check */
const V2_LOCAL = Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0x00, 0x00])])

/** Open a connection, write the pieces a few ms apart; resolve with all it got once cutover closed it or `until` matched. */
function exchange(port: number, pieces: Buffer[], until?: RegExp): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    let text = ''
    let settled = false
    const s = net.connect(port, '127.0.0.1', async () => {
      for (const p of pieces) {
        if (s.destroyed) return
        s.write(p)
        await new Promise((r) => setTimeout(r, 15))
      }
    })
    const finish = (closedByServer: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      resolve({ text, closedByServer })
    }
    const timer = setTimeout(() => finish(false), 5000)
    s.on('data', (d) => {
      text += d.toString('latin1')
      if (until?.test(text)) finish(false)
    })
    s.on('error', () => undefined)
    s.on('close', () => finish(true))
  })
}

async function setup(t: Test, extra = '', proxyProtocol = true): Promise<{ c: TestCutover; x: TestUpstream; port: number }> {
  const x = await startUpstream('x1')
  const c = await startTestCutover({ x: [x.url], y: [], proxy: `  proxy_protocol: ${proxyProtocol}\n  header_timeout: 500ms\n${extra}` })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  return { c, x, port: c.cutover.proxyAddress.port }
}

const refusedSeries = 'cutover_requests_refused_total{reason="proxy_protocol"}'
const GET = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: shop.example\r\n\r\n`)

t.test('HTTP/1.1: the address of a v1 or v2 header is the client, for every request on the connection', async (t) => {
  const { x, port } = await setup(t)
  // the header in two writes, then two requests on one connection
  const header = v1('203.0.113.7')
  const r = await exchange(port, [header.subarray(0, 9), header.subarray(9), GET('/a'), GET('/b')], /\/b"}/)
  t.match(r.text, /^HTTP\/1\.1 200 OK/)
  t.same(
    x.seen.map((s) => [s.url, s.headers['x-forwarded-for']]),
    [
      ['/a', '203.0.113.7'],
      ['/b', '203.0.113.7'],
    ],
  )
  // the header and the request in one write
  await exchange(port, [Buffer.concat([V2_TCP6, GET('/c')])], /\/c"}/)
  t.equal(x.seen.at(-1)?.headers['x-forwarded-for'], '2001:db8::7', 'v2 over TCP6, TLV skipped')
  await exchange(port, [Buffer.concat([V2_LOCAL, GET('/d')])], /\/d"}/)
  t.equal(x.seen.at(-1)?.headers['x-forwarded-for'], '127.0.0.1', 'LOCAL: the connection’s own peer')
})

t.test('no header, a bad one, or none in time: closed without an answer, counted, and the node sees nothing', async (t) => {
  const { c, x, port } = await setup(t)
  const cases: Array<[string, Buffer[]]> = [
    ['plain HTTP/1.1', [GET('/plain')]],
    ['a v1 header with a host name', [Buffer.from('PROXY TCP4 evil.example 127.0.0.1 1 2\r\n'), GET('/bad')]],
    ['a v1 header in 107 bytes without CRLF', [Buffer.from(`PROXY TCP4 ${'9'.repeat(110)}`)]],
    ['half a header, then nothing (header_timeout)', [Buffer.from('PROXY TCP4 203.0.')]],
    ['nothing at all (header_timeout)', []],
  ]
  for (const [what, pieces] of cases) {
    const started = performance.now()
    const r = await exchange(port, pieces)
    t.ok(r.closedByServer, `${what}: closed by cutover`)
    t.equal(r.text, '', `${what}: no answer`)
    t.ok(performance.now() - started < 3000, `${what}: within header_timeout`)
  }
  t.equal(x.seen.length, 0, 'no request reached the node')
  await waitUntil('the refusals counted', async () => (await metricValue(c, refusedSeries)) === cases.length, 5000)
})

t.test('h2c with prior knowledge after the header, on the HTTP/1.1 port and on h2c_listen', async (t) => {
  const { c, x, port } = await setup(t, '  h2c_listen: 127.0.0.1:0\n')
  for (const [where, target, header] of [
    ['the HTTP/1.1 port', port, v1('198.51.100.9')],
    ['h2c_listen', c.cutover.h2cAddress!.port, V2_TCP6],
  ] as const) {
    const session = http2.connect(`http://127.0.0.1:${target}`, {
      createConnection: () => {
        const s = net.connect(target, '127.0.0.1')
        s.write(header)
        return s
      },
    })
    const r = await h2Request(session, { ':path': `/h2/${target}` })
    session.close()
    t.equal(r.status, 200, where)
    t.equal(x.seen.at(-1)?.headers['x-forwarded-for'], header === V2_TCP6 ? '2001:db8::7' : '198.51.100.9', where)
  }
  const refused = await exchange(c.cutover.h2cAddress!.port, [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')])
  t.ok(refused.closedByServer, 'h2c_listen without a header: closed')
})

t.test('TLS: the header comes before the handshake', async (t) => {
  const files = tlsFiles()
  const { x, port } = await setup(t, `  tls: { cert: ${files.cert}, key: ${files.key} }\n`)
  const raw = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => raw.once('connect', resolve))
  raw.write(v1('192.0.2.44'))
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
  secure.write(GET('/tls'))
  let text = ''
  secure.on('data', (d) => (text += d.toString()))
  await waitUntil('the answer', () => /"\/tls"}/.test(text), 5000)
  secure.destroy()
  t.equal(x.seen.at(-1)?.headers['x-forwarded-for'], '192.0.2.44')
  t.equal(x.seen.at(-1)?.headers['x-forwarded-proto'], 'https')
  // a ClientHello with no header first: closed
  const bare = await exchange(port, [Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])])
  t.ok(bare.closedByServer, 'TLS without a header: closed')
})

t.test('proxy.proxy_protocol off and a balancer that sends the header anyway: the 400 says so, not "unknown method"', async (t) => {
  const { x, port } = await setup(t, '', false)
  for (const header of [v1('203.0.113.7'), V2_TCP6]) {
    const r = await exchange(port, [Buffer.concat([header, GET('/a')])])
    t.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/)
    t.match(r.text, /"bad request: a PROXY protocol header, and proxy\.proxy_protocol is off/)
  }
  t.equal(x.seen.length, 0)
})
