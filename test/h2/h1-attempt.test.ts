// An h2 client's request on a node's HTTP/1.1 url (src/h2/h1-attempt.ts), with answers a node
// should not send but some do: the client gets what the HTTP/1.1 path would give it.
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { type RawServer, startRawServer } from '../helpers/upstream.js'
import { metricValue } from '../helpers/wait.js'

/** A raw HTTP/1.1 node: /hop answers with a field its Connection header names, /no-content 204 with a Content-Length, /reset-content 205 with one and a body, /chunked-extra a chunked answer and stray bytes, anything else 200 with a 4-byte body, HEAD included. */
function startOddNode(): Promise<RawServer> {
  return startRawServer((socket) => {
    let buf = ''
    socket.on('data', (d) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1]
        buf = buf.slice(end + 4)
        if (path === '/no-content') socket.write('HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n')
        else if (path === '/reset-content') socket.write('HTTP/1.1 205 Reset Content\r\nContent-Length: 5\r\n\r\nhello')
        // a whole chunked answer, then bytes that belong to nothing, in one write
        // a field its Connection header names: hop-by-hop
        else if (path === '/hop') socket.write('HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: x\r\nX-Kept: y\r\nContent-Length: 4\r\n\r\nBODY')
        else if (path === '/chunked-extra') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nEXTRA')
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nBODY')
      }
    })
  })
}

/** A cutover in front of the odd node, and an h2 client session to its HTTP/1.1 port (h2c with prior knowledge). */
async function setup(t: Test): Promise<{ x: { url: string }; c: TestCutover; session: http2.ClientHttp2Session }> {
  const x = await startOddNode()
  const c = await startTestCutover({ x: [x.url], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await x.close()
  })
  return { x, c, session }
}

t.test('a 204 that names a Content-Length reaches an h2 client as a 204 without one (nghttp2 resets it otherwise)', async (t) => {
  const { session } = await setup(t)
  const r = await h2Request(session, { ':path': '/no-content' })
  t.equal(r.status, 204)
  t.equal(r.headers['content-length'], undefined, 'no content-length on the 204')
  t.equal(r.body, '')
  const after = await h2Request(session, { ':path': '/after' })
  t.equal(after.body, 'BODY', 'the session serves on')
})

t.test("a HEAD answered with a body anyway: the client gets the answer, the node's connection is dropped, no failure is counted", async (t) => {
  const { x, c, session } = await setup(t)
  for (let i = 0; i < 3; i++) {
    const r = await h2Request(session, { ':path': `/head/${i}`, ':method': 'HEAD' })
    t.equal(r.status, 200, `HEAD ${i}`)
    t.equal(r.headers['content-length'], '4')
    t.equal(r.body, '')
  }
  const get = await h2Request(session, { ':path': '/get' })
  t.equal(get.body, 'BODY', 'a GET after them is answered whole')
  for (const kind of ['reset', 'protocol']) {
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="${x.url.slice(7)}",kind="${kind}"}`), 0, `no ${kind} failure counted`)
  }
  t.equal(await metricValue(c, 'cutover_requests_total{pool="x",code="2xx"}'), 4, 'all four answers counted as 2xx')
})

t.test('bytes after a whole chunked answer do not cut it: the client gets its body and a clean end', async (t) => {
  const { session } = await setup(t)
  for (let i = 0; i < 3; i++) {
    const r = await h2Request(session, { ':path': '/chunked-extra' })
    t.equal(r.status, 200)
    t.equal(r.body, 'hello', `answer ${i} whole`)
  }
})

t.test('a 205 reaches an h2 client as a 205 without Content-Length or body (nghttp2 resets it otherwise)', async (t) => {
  const { session } = await setup(t)
  const r = await h2Request(session, { ':path': '/reset-content' })
  t.equal(r.status, 205)
  t.equal(r.headers['content-length'], undefined)
  t.equal(r.body, '')
})

t.test("a field the node's Connection header names is not relayed to an h2 client, as on the HTTP/1.1 path", async (t) => {
  const { session } = await setup(t)
  const r = await h2Request(session, { ':path': '/hop' })
  t.equal(r.status, 200)
  t.equal(r.headers['x-hop'], undefined, 'the named field dropped')
  t.equal(r.headers['x-kept'], 'y', 'the others relayed')
  t.equal(r.body, 'BODY')
})

t.test('a request with no body and trailers reaches an HTTP/1.1 node chunked, its trailers after the last chunk', async (t) => {
  const got: { te: string | undefined; length: string | undefined; body: string; trailers: Record<string, string> }[] = []
  const node = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      got.push({ te: req.headers['transfer-encoding'], length: req.headers['content-length'], body, trailers: { ...(req.trailers as Record<string, string>) } })
      res.end('ok')
    })
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const c = await startTestCutover({ x: [`http://127.0.0.1:${(node.address() as AddressInfo).port}`], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  // HEADERS, then HEADERS with the trailers and END_STREAM: no DATA
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/empty' }, { waitForTrailers: true })
    req.on('wantTrailers', () => req.sendTrailers({ 'x-checksum': 'none' }))
    req.on('response', (h) => resolve(Number(h[':status'])))
    req.on('error', reject)
    req.resume()
    req.end()
  })
  t.equal(status, 200)
  t.same(got, [{ te: 'chunked', length: undefined, body: '', trailers: { 'x-checksum': 'none' } }], 'Transfer-Encoding: chunked, the trailers on the 0 chunk')
})
