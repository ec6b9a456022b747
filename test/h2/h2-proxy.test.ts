// HTTP/2 end to end through a real cutover (issue 12): h2c and TLS (ALPN) clients, h2c and HTTP/1.1 nodes.
import http2 from 'node:http2'
import https from 'node:https'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, startH2Upstream, tlsFiles } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'

/** A pool entry for a node whose h2 listener is at h2 (its HTTP/1.1 url is the same port: unused). */
const h2node = (h2: string) => `{ url: ${h2.replace(/^h2c?:/, 'http:')}, h2: "${h2}" }`

t.test('h2c with prior knowledge to an h2c node: methods, bodies, headers, X-Forwarded-*', async (t) => {
  const up = await startH2Upstream('x1')
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  const get = await h2Request(session, { ':path': '/a?b=1', ':authority': 'api.example.com', 'x-forwarded-for': '10.1.1.1' })
  t.equal(get.status, 200)
  t.same(JSON.parse(get.body), { upstream: 'x1', path: '/a?b=1', method: 'GET', body: '' })
  const seen = up.seen[0]
  t.equal(seen[':authority'], 'api.example.com', 'Kong routes on the host: :authority passes as sent')
  t.equal(seen['x-forwarded-for'], '10.1.1.1, 127.0.0.1')
  t.equal(seen['x-forwarded-proto'], 'http')
  t.equal(seen['x-forwarded-host'], 'api.example.com')
  const post = await h2Request(session, { ':method': 'POST', ':path': '/p', 'content-type': 'text/plain' }, 'x'.repeat(100_000))
  t.equal(JSON.parse(post.body).body.length, 100_000)
  const metrics = await (await fetch(`${c.controlUrl}/metrics`)).text()
  t.match(metrics, /cutover_protocol_requests_total\{pool="x",protocol="h2"\} 2/)
  t.match(metrics, /cutover_requests_total\{pool="x",code="2xx"\} 2/)
})

t.test('TLS with ALPN: h2 clients to an HTTP/1.1 node and back; http/1.1 clients still go to the engine', async (t) => {
  const up = await startUpstream('x1', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum', connection: 'keep-alive' })
    res.write(`${req.httpVersion} ${req.headers.host} ${req.headers['x-forwarded-proto']}`)
    res.addTrailers({ 'x-checksum': 'abc' })
    res.end()
  })
  const tls = tlsFiles()
  const c = await startTestCutover({ x: [up.url], y: [], proxy: `  tls: { cert: ${tls.cert}, key: ${tls.key} }` })
  const port = c.cutover.proxyAddress.port
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  const r = await h2Request(session, { ':path': '/h', ':authority': 'kong.example.com' })
  t.equal(r.status, 200)
  t.equal(r.body, '1.1 kong.example.com https', 'sent as HTTP/1.1 with Host from :authority')
  t.equal(r.trailers['x-checksum'], 'abc', 'chunked trailers arrive as h2 trailers')
  t.equal(r.headers.connection, undefined)
  const h1 = await new Promise<{ version: string; body: string }>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/one', rejectUnauthorized: false, agent: new https.Agent({ ALPNProtocols: ['http/1.1'] }) }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ version: res.httpVersion, body }))
      })
      .on('error', reject)
  })
  t.equal(h1.version, '1.1')
  t.match(h1.body, /^1\.1 127\.0\.0\.1:\d+ https$/)
})

t.test('routing is per stream: one connection reaches both pools by override header and by split', async (t) => {
  const x = await startH2Upstream('x1')
  const y = await startH2Upstream('y1')
  const c = await startTestCutover({ x: [h2node(x.h2)], y: [h2node(y.h2)], proxy: '  h2c_listen: 127.0.0.1:0', extra: 'split: { y: 50, override_header: x-cutover-pool }' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await x.close()
    await y.close()
  })
  t.equal(JSON.parse((await h2Request(session, { 'x-cutover-pool': 'y' })).body).upstream, 'y1')
  t.equal(JSON.parse((await h2Request(session, { 'x-cutover-pool': 'x' })).body).upstream, 'x1')
  const answers = await Promise.all(Array.from({ length: 200 }, () => h2Request(session, {})))
  const ys = answers.filter((a) => JSON.parse(a.body).upstream === 'y1').length
  // 200 draws at 50 %: outside 60..140 has a chance below 1e-8
  t.ok(ys > 60 && ys < 140, `both pools served streams of one connection (y: ${ys} of 200)`)
})

t.test('1xx and trailers pass through from an h2 node; a refused node is retried on the next', async (t) => {
  const up = await startH2Upstream('x1', (stream) => {
    stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' })
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }))
    stream.end('body')
  })
  const c = await startTestCutover({ x: [h2node(up.h2), h2node('h2c://127.0.0.1:1')], y: [], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 3' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  for (let i = 0; i < 6; i++) {
    const early: string[] = []
    const r = await new Promise<{ status: number; trailers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/' })
      let status = 0
      let trailers = {}
      let body = ''
      req.on('headers', (h) => early.push(String(h.link)))
      req.on('response', (h) => (status = Number(h[':status'])))
      req.on('trailers', (h) => (trailers = h))
      req.on('data', (d) => (body += d))
      req.on('end', () => resolve({ status, trailers, body }))
      req.on('error', reject)
    })
    t.equal(r.status, 200, `request ${i}: a refused connect to port 1 is retried`)
    t.equal(r.body, 'body')
    t.equal(r.trailers['x-done'], 'yes')
    t.same(early, ['</a.css>; rel=preload'])
  }
})
