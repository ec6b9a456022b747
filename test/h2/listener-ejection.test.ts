// Passive health per node listener (issue 12): a node's h2 listener (Kong's separate http2
// port) and its HTTP/1.1 url fail on their own; an ejected h2 listener does not take the
// node's HTTP/1.1 traffic with it.
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { callUnary, echoClient, startEchoServer } from '../helpers/grpc.js'
import { h2Request } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

t.test("a node's h2 listener dies: gRPC goes to the other node, HTTP/1.1 and h2 to that node keep flowing", async (t) => {
  const h1a = await startUpstream('a')
  const h1b = await startUpstream('b')
  const grpcA = await startEchoServer('a')
  const grpcB = await startEchoServer('b')
  const node = (name: string, url: string, port: number) => `{ name: ${name}, url: ${url}, h2: "h2c://127.0.0.1:${port}" }`
  const c = await startTestCutover({
    x: [node('a', h1a.url, grpcA.port), node('b', h1b.url, grpcB.port)],
    y: [],
    proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 2',
    extra: 'health: { passive: { max_failures: 3, eject_for: 60s } }',
  })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    session.close()
    await c.cutover.close()
    await Promise.all([h1a.close(), h1b.close(), grpcB.close()])
  })
  // both nodes serve gRPC
  const before = await Promise.all(Array.from({ length: 20 }, () => callUnary(client, { n: 1 })))
  t.ok(before.every((r) => r.res !== undefined))
  t.ok(grpcA.served > 0 && grpcB.served > 0, 'both h2 listeners served calls')

  // a's h2 listener goes away; its HTTP/1.1 listener stays
  await grpcA.close()
  const ejected = await waitUntil(
    "a's h2 listener to be ejected",
    async () => {
      // each refused connect is retried on b: the client never sees it
      const r = await callUnary(client, { n: 1 })
      t.equal(r.err, undefined, 'a refused connect to a is retried on b')
      return c.cutover.events.since(0).find((e) => e.type === 'node.ejected')
    },
    10_000,
  )
  t.match(ejected, { pool: 'x', node: 'a', listener: 'h2' })
  t.match(String(ejected.cause), /^h2 listener ejected after 3 failures: connect/)

  const state = await c.api('GET', '/v1/state')
  const a = state.body.pools.x.nodes.find((n: { name: string }) => n.name === 'a')
  t.equal(a.ejected, false, 'the node itself is not ejected')
  t.equal(a.h2_ejected, true, 'its h2 listener is')
  t.type(a.h2_ejected_until, 'string')
  t.equal(await metricValue(c, 'cutover_node_listener_ejected{pool="x",node="a",listener="h2"}'), 1)
  t.equal(await metricValue(c, 'cutover_node_listener_ejected{pool="x",node="a",listener="http1"}'), 0)
  t.equal(await metricValue(c, 'cutover_node_listener_ejected{pool="x",node="b",listener="h2"}'), 0)
  t.equal(await metricValue(c, 'cutover_node_healthy{pool="x",node="a"}'), 1, 'a still takes traffic')

  // gRPC now goes to b only, without even trying a
  const errorsBefore = await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="a",kind="connect"}')
  const servedB = grpcB.served
  const after = await Promise.all(Array.from({ length: 20 }, () => callUnary(client, { n: 1 })))
  t.same(
    after.map((r) => r.res?.text),
    Array(20).fill('b'),
  )
  t.equal(grpcB.served - servedB, 20)
  t.equal(await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="a",kind="connect"}'), errorsBefore, 'no attempt on a h2 listener that is out')

  // HTTP/1.1 clients still reach a (its url)
  const seenA = h1a.seen.length
  const h1 = await Promise.all(Array.from({ length: 40 }, () => fetch(`${c.proxyUrl}/h1`).then(async (r) => (await r.json()).upstream as string)))
  t.ok(h1.includes('a'), `HTTP/1.1 requests still go to a: ${h1.filter((u) => u === 'a').length} of 40`)
  t.ok(h1a.seen.length > seenA)

  // an h2 client's stream that is not gRPC goes to a's url meanwhile (b's h2 listener, a gRPC server, answers it otherwise)
  const h2 = await Promise.all(Array.from({ length: 40 }, () => h2Request(session, { ':path': '/h2' }).then((r) => String(r.headers['x-upstream']))))
  t.ok(h2.includes('a'), `h2 streams go to a's HTTP/1.1 url: ${h2.filter((u) => u === 'a').length} of 40`)
  t.ok(
    h1a.seen.some((s) => s.url === '/h2'),
    'a saw them over HTTP/1.1',
  )
})
