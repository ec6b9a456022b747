// A node that drops a stream with GOAWAY whose last-stream-id is below it never processed
// it (RFC 9113 6.8), whatever the GOAWAY's error code: the request goes to another node
// whatever its method, as long as cutover still holds all of it (no body, or one of at most
// 64 KiB, kept until the answer begins), within proxy.retries; else 502.
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, goawayFrame, h2Request, HEADERS, INTERNAL_ERROR, NO_ERROR, startH2Upstream, startRawH2Node, windowUpdate } from '../helpers/h2.js'
import { callUnary, echoClient, startEchoServer } from '../helpers/grpc.js'
import { metricValue } from '../helpers/wait.js'

const h2node = (h2: string) => `{ url: ${h2.replace(/^h2c?:/, 'http:')}, h2: "${h2}" }`

/**
 * A node that answers each stream with GOAWAY(last-stream-id 0, code), then holds or ends
 * its connection; after: at its HEADERS, or once that many bytes of its body came (its
 * windows opened wide for them).
 */
async function goawayNode(code: number, end: boolean, after = 0) {
  let streams = 0
  let received = 0
  const node = await startRawH2Node((s, f) => {
    const goaway = () => {
      s.write(goawayFrame(0, code))
      if (end) s.end()
    }
    if (f.type === HEADERS) {
      streams++
      received = 0
      if (after === 0) goaway()
      else s.write(Buffer.concat([windowUpdate(0, 1 << 24), windowUpdate(f.stream, 1 << 24)]))
    } else if (f.type === DATA && after > 0) {
      const before = received
      received += f.payload.length
      if (before < after && received >= after) goaway()
    }
  })
  return { ...node, h2: `h2c://127.0.0.1:${node.port}`, streams: () => streams }
}

for (const [label, code, end] of [
  ['NO_ERROR, connection held', NO_ERROR, false],
  ['NO_ERROR, connection ended', NO_ERROR, true],
  ['INTERNAL_ERROR, connection held', INTERNAL_ERROR, false],
  ['INTERNAL_ERROR, connection ended', INTERNAL_ERROR, true],
] as const) {
  t.test(`a bodiless POST the node dropped unprocessed (GOAWAY ${label}) goes to another node`, async (t) => {
    const bad = await goawayNode(code, end)
    const good = await startH2Upstream('y1')
    // split y 0: the first attempt is x's only node, the retry y's
    const c = await startTestCutover({ x: [h2node(bad.h2)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 1' })
    const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
    t.teardown(async () => {
      session.close()
      await c.cutover.close()
      await Promise.all([bad.close(), good.close()])
    })
    const r = await h2Request(session, { ':method': 'POST', ':path': '/p' })
    t.equal(bad.streams(), 1, 'the node had the stream')
    t.equal(r.status, 200, r.body)
    t.same(JSON.parse(r.body), { upstream: 'y1', path: '/p', method: 'POST', body: '' })
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${bad.port}",kind="connect"}`), 1)
    t.equal(await metricValue(c, 'cutover_requests_total{pool="y",code="2xx"}'), 1)
  })
}

t.test('a POST with a short body, and a gRPC call: sent again whole to another node', async (t) => {
  const bad = await goawayNode(INTERNAL_ERROR, false)
  const good = await startH2Upstream('y1')
  const echo = await startEchoServer('y2')
  const c = await startTestCutover({ x: [h2node(bad.h2)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 1' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([bad.close(), good.close(), echo.close()])
  })
  // bytes that differ along the body: a kept piece overwritten by a later read would show
  const body = Array.from({ length: 40_000 }, (_, i) => String.fromCharCode(97 + ((i * 7 + (i >> 10)) % 26))).join('')
  const r = await h2Request(session, { ':method': 'POST', ':path': '/p' }, body)
  t.equal(r.status, 200, r.body.slice(0, 100))
  t.same(JSON.parse(r.body), { upstream: 'y1', path: '/p', method: 'POST', body }, 'the whole body, once')
  t.equal(bad.streams(), 1)

  const g = await startTestCutover({ x: [h2node(bad.h2)], y: [`{ url: http://127.0.0.1:${echo.port}, h2: "h2c://127.0.0.1:${echo.port}" }`], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 1' })
  const client = echoClient(`127.0.0.1:${g.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await g.cutover.close()
  })
  const call = await callUnary(client, { n: 21 })
  t.same(call.res, { n: 42, text: 'y2' }, `answered by the other node (${call.err?.message})`)
  t.equal(bad.streams(), 2)
})

t.test('no retry left (proxy.retries 0), or a body longer than cutover keeps: 502, the node tried once', async (t) => {
  const bad = await goawayNode(INTERNAL_ERROR, false)
  const good = await startH2Upstream('y1')
  const c = await startTestCutover({ x: [h2node(bad.h2)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([bad.close(), good.close()])
  })
  const r = await h2Request(session, { ':method': 'POST', ':path': '/p' })
  t.equal(r.status, 502)
  t.equal(bad.streams(), 1)
  t.equal(good.seen.length, 0)

  // with retries: a body of which more than the 64 KiB kept had gone is not sent again
  const big = await goawayNode(INTERNAL_ERROR, false, 100_000)
  t.teardown(() => big.close())
  const c2 = await startTestCutover({ x: [h2node(big.h2)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 2' })
  const session2 = http2.connect(`http://127.0.0.1:${c2.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session2.close()
    await c2.cutover.close()
  })
  const r2 = await h2Request(session2, { ':method': 'POST', ':path': '/p' }, Buffer.alloc(200_000, 'a'))
  t.equal(r2.status, 502)
  t.equal(big.streams(), 1)
  t.equal(good.seen.length, 0, 'not sent again')
})

t.test('a POST with a body its node refused (REFUSED_STREAM, RFC 9113 8.7): sent again whole to another node', async (t) => {
  const refusing = await startH2Upstream('x1', (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM))
  const good = await startH2Upstream('y1')
  const c = await startTestCutover({ x: [h2node(refusing.h2)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 1' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([refusing.close(), good.close()])
  })
  const r = await h2Request(session, { ':method': 'POST', ':path': '/r' }, 'a body')
  t.same(JSON.parse(r.body), { upstream: 'y1', path: '/r', method: 'POST', body: 'a body' })
  t.equal(refusing.seen.length, 1)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${refusing.port}",kind="connect"}`), 1)
})
