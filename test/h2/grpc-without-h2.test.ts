// A gRPC call where nodes have no h2 address: it goes to one that has, and where none has,
// it is answered UNAVAILABLE without blaming a node (a client must not be able to eject a
// healthy HTTP/1.1 node, or feed its pool's gate with node failures, by calling gRPC at it).
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, startH2Upstream } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue } from '../helpers/wait.js'

const grpcCall = { ':method': 'POST', ':path': '/shop.Cart/Add', 'content-type': 'application/grpc', te: 'trailers' }

t.test('gRPC skips nodes without an h2 address; with none at all it is UNAVAILABLE and no node is blamed', async (t) => {
  const h2node = await startH2Upstream('x1', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
    stream.end()
  })
  const y1 = await startUpstream('y1')
  const y2 = await startUpstream('y2')
  const c = await startTestCutover({
    x: [`{ url: http://127.0.0.1:${h2node.port}, h2: "${h2node.h2}" }`],
    y: [y1.url, y2.url],
    extra: 'split: { y: 100 }',
  })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([h2node.close(), y1.close(), y2.close()])
  })
  for (let i = 0; i < 12; i++) {
    const r = await h2Request(session, grpcCall, Buffer.alloc(5))
    t.equal(r.trailers['grpc-status'], '0', `call ${i} answered by the node with an h2 address`)
  }
  t.equal(y1.seen.length + y2.seen.length, 0, 'the HTTP/1.1 nodes saw none of it')
  for (const y of [y1, y2]) {
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="127.0.0.1:${y.port}",kind="protocol"}`), 0, `no failure counted on ${y.url}`)
  }
  // plain requests still go to y, whose nodes were never ejected
  const plain = await h2Request(session, { ':path': '/plain' })
  t.match(JSON.parse(plain.body), { upstream: /^y[12]$/ })
})

t.test('no node with an h2 address anywhere: UNAVAILABLE with the reason, nothing counted against the nodes', async (t) => {
  const y1 = await startUpstream('y1')
  const y2 = await startUpstream('y2')
  const c = await startTestCutover({ x: [], y: [y1.url, y2.url], extra: 'split: { y: 100 }' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([y1.close(), y2.close()])
  })
  for (let i = 0; i < 12; i++) {
    const r = await h2Request(session, grpcCall, Buffer.alloc(5))
    t.equal(r.headers['grpc-status'], '14', `call ${i}: UNAVAILABLE`)
    t.match(decodeURIComponent(String(r.headers['grpc-message'])), /no usable node has an h2 address/)
  }
  const { body } = await c.api('GET', '/v1/state')
  for (const n of (body as { pools: { y: { nodes: Array<{ url: string; ejected?: boolean; ejected_until?: unknown }> } } }).pools.y.nodes) {
    t.notOk(n.ejected_until ?? n.ejected, `${n.url} not ejected`)
  }
  for (const y of [y1, y2]) {
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="127.0.0.1:${y.port}",kind="protocol"}`), 0)
  }
})
