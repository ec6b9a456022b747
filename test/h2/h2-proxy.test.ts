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

/** POST body on session, then the request trailers; resolves with the answer's status and body. */
function postWithTrailers(
  session: http2.ClientHttp2Session,
  path: string,
  body: string,
  trailers: http2.OutgoingHttpHeaders,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'text/plain', ...headers }, { waitForTrailers: true })
    req.on('wantTrailers', () => req.sendTrailers(trailers))
    let status = 0
    let text = ''
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d) => (text += d))
    req.on('end', () => resolve({ status, body: text }))
    req.on('error', reject)
    req.end(body)
  })
}

t.test("an h2 client's request trailers reach an h2 node as trailers and an HTTP/1.1 node as chunked trailers", async (t) => {
  const h2Trailers: http2.IncomingHttpHeaders[] = []
  const h2up = await startH2Upstream('x1', (stream) => {
    let body = ''
    stream.on('data', (d) => (body += d))
    stream.on('trailers', (h) => h2Trailers.push(h))
    stream.on('end', () => {
      stream.respond({ ':status': 200 })
      stream.end(body)
    })
  })
  const h1Trailers: Record<string, string>[] = []
  const h1up = await startUpstream('y1', (req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      h1Trailers.push({ ...(req.trailers as Record<string, string>), te: String(req.headers['transfer-encoding']) })
      res.end(body)
    })
  })
  const c = await startTestCutover({ x: [h2node(h2up.h2)], y: [h1up.url], proxy: '  h2c_listen: 127.0.0.1:0', extra: 'split: { y: 0, override_header: x-cutover-pool }' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await h2up.close()
    await h1up.close()
  })
  const toH2 = await postWithTrailers(session, '/up', 'abc', { 'x-checksum': 'c1', 'x-count': '3' })
  t.same(toH2, { status: 200, body: 'abc' })
  t.equal(h2Trailers.length, 1, 'the h2 node got a trailers block')
  t.equal(h2Trailers[0]['x-checksum'], 'c1')
  t.equal(h2Trailers[0]['x-count'], '3')
  const toH1 = await postWithTrailers(session, '/up', 'defg', { 'x-checksum': 'c2' }, { 'x-cutover-pool': 'y' })
  t.same(toH1, { status: 200, body: 'defg' })
  t.same(h1Trailers, [{ 'x-checksum': 'c2', te: 'chunked' }], 'the HTTP/1.1 node got them after the last chunk')
  // a body of declared length goes unchunked: HTTP/1.1 has no place for its trailers
  const sized = await postWithTrailers(session, '/up', 'hi', { 'x-checksum': 'c3' }, { 'x-cutover-pool': 'y', 'content-length': '2' })
  t.same(sized, { status: 200, body: 'hi' })
  t.same(h1Trailers[1], { te: 'undefined' }, 'dropped, the body passed whole')
  // a request without trailers still ends at once on both (an empty END_STREAM frame to the h2 node)
  t.equal((await h2Request(session, { ':method': 'POST', ':path': '/plain' }, 'xyz')).body, 'xyz')
  t.equal(h2Trailers.length, 1, 'no trailers block for a request that had none')
})
