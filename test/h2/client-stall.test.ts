// A client that stops sending the body a node is reading as it answers (an echo, a bidi
// gRPC call): cut after idle_timeout as the client's stall, never counted against the node.
import http from 'node:http'
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { startH2Upstream } from '../helpers/h2.js'
import { metricValue } from '../helpers/wait.js'

/** POST of a declared 100 kB, 30 kB of it sent, then nothing; resolves when cutover ends the stream, with what came back. */
function stalledUpload(session: http2.ClientHttp2Session): Promise<{ status: number; echoed: number; rstCode: number | undefined }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': '/echo', 'content-length': '100000' })
    let status = 0
    let echoed = 0
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (echoed += d.length))
    req.on('error', () => undefined)
    req.on('close', () => resolve({ status, echoed, rstCode: req.rstCode }))
    req.write(Buffer.alloc(30_000, 'a'))
  })
}

t.test('an echo node on h2 and on HTTP/1.1: the client’s stall ends the stream and counts nothing against the node', async (t) => {
  const h2node = await startH2Upstream('x1', (stream) => {
    stream.respond({ ':status': 200 })
    stream.pipe(stream)
  })
  const h1node = http.createServer((req, res) => {
    res.writeHead(200)
    req.pipe(res)
  })
  await new Promise<void>((r) => h1node.listen(0, '127.0.0.1', r))
  const h1port = (h1node.address() as { port: number }).port
  const c = await startTestCutover({
    x: [`{ url: http://127.0.0.1:${h2node.port}, h2: "${h2node.h2}" }`],
    y: [`http://127.0.0.1:${h1port}`],
    proxy: '  idle_timeout: 500ms',
    extra: 'split: { override_header: x-cutover-pool }',
  })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await h2node.close()
    h1node.closeAllConnections()
    await new Promise((r) => h1node.close(r))
  })
  const r = await stalledUpload(session)
  t.equal(r.status, 200)
  t.equal(r.echoed, 30_000, 'what the client sent came back')
  t.not(r.rstCode, 0, 'then the stream was cut, not ended as if whole')
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${h2node.port}",kind="timeout"}`), 0, 'the h2 node is not blamed')
  // the same through the HTTP/1.1 node (pool y, by the override header)
  const y = await new Promise<{ status: number; rstCode: number | undefined }>((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': '/echo', 'content-length': '100000', 'x-cutover-pool': 'y' })
    let status = 0
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', () => undefined)
    req.on('error', () => undefined)
    req.on('close', () => resolve({ status, rstCode: req.rstCode }))
    req.write(Buffer.alloc(30_000, 'a'))
  })
  t.not(y.rstCode, 0, 'cut')
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="127.0.0.1:${h1port}",kind="timeout"}`), 0, 'the HTTP/1.1 node is not blamed')
})
