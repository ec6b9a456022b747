// Streams waiting for an h2 session at proxy.upstream_max_connections (src/h2/node-session-pool.ts):
// a session the node sent GOAWAY stays open while its streams finish and counts against the
// cap, so the next streams wait for it to close. When that node must take no more traffic
// (a rollback), nothing of them reached it: they go to the other pool at once, as the
// streams waiting for an HTTP/1.1 connection do (test/app/queued-follow-split.test.ts).
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, startH2Upstream } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

t.test("a rollback sends the streams waiting for y's h2 session (every one GOAWAY'd, at the cap) to x at once", async (t) => {
  const x = http.createServer((_req, res) => res.end('x1'))
  await new Promise<void>((r) => x.listen(0, '127.0.0.1', r))
  // y holds every stream and sends GOAWAY naming it: its session takes no new stream, and stays
  const held: http2.ServerHttp2Stream[] = []
  const y = await startH2Upstream('y1', (stream) => {
    held.push(stream)
    stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id)
  })
  const c = await startTestCutover({
    x: [`http://127.0.0.1:${(x.address() as AddressInfo).port}`],
    y: [`{ url: "http://127.0.0.1:${y.port}", h2: "${y.h2}" }`],
    proxy: '  upstream_max_connections: 1\n  request_timeout: 20s\n  h2c_listen: 127.0.0.1:0',
  })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    x.closeAllConnections()
    await new Promise((r) => x.close(r))
    await y.close()
  })
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const inFlight = h2Request(session, { ':path': '/hold' }).catch((err: Error) => err)
  await waitUntil('y holds the first stream', () => held.length === 1, 3000)
  const queued = [h2Request(session, { ':path': '/a' }), h2Request(session, { ':path': '/b' })]
  await waitUntil('three streams in flight on y', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="y"}')) === 3, 3000)
  t.equal(held.length, 1, 'y saw only the first: the others wait for its session to close')
  const waiting = `cutover_upstream_requests_waiting{pool="y",node="127.0.0.1:${y.port}"}`
  t.equal(await metricValue(c, waiting), 2, 'and the metric counts them as waiting for y')
  t.equal((await c.api('POST', '/v1/rollback', { reason: 'y is slow' })).status, 200)
  const answers = await Promise.all(queued)
  t.same(
    answers.map((a) => `${a.status} ${a.body}`),
    ['200 x1', '200 x1'],
    'the waiting streams went to x',
  )
  t.equal(held.length, 1, 'y never saw them')
  t.equal(await metricValue(c, waiting), 0, 'none waits any more')
  held[0]!.respond({ ':status': 200 })
  held[0]!.end('y1-held')
  const first = await inFlight
  t.equal(first instanceof Error ? first.message : first.body, 'y1-held', 'the one in flight on y finished there')
})
