// gRPC end to end through a real cutover (issue 12): @grpc/grpc-js client -> cutover (h2c) -> @grpc/grpc-js server.
import * as grpc from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { callUnary, echoClient, type Msg, startEchoServer } from '../helpers/grpc.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** A node speaking gRPC on an h2c port (its HTTP/1.1 url: the same port, unused here). */
const grpcNode = (port: number) => `{ url: http://127.0.0.1:${port}, h2: "h2c://127.0.0.1:${port}" }`

async function setup(t: Test, extra = '') {
  const x = await startEchoServer('x1')
  const c = await startTestCutover({ x: [grpcNode(x.port)], y: [], proxy: '  h2c_listen: 127.0.0.1:0', extra })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await x.close()
  })
  return { x, c, client }
}

t.test('unary, server streaming, client streaming and bidi calls pass through', async (t) => {
  const { c, client } = await setup(t)
  const unary = await callUnary(client, { n: 21 })
  t.same(unary.res, { n: 42, text: 'x1' })

  const streamed = await new Promise<Msg[]>((resolve, reject) => {
    const got: Msg[] = []
    const call = client.serverStream({ n: 5 })
    call.on('data', (m: Msg) => got.push(m))
    call.on('end', () => resolve(got))
    call.on('error', reject)
  })
  t.same(
    streamed.map((m) => m.n),
    [0, 1, 2, 3, 4],
  )

  const sum = await new Promise<Msg | undefined>((resolve, reject) => {
    const call = client.clientStream((err, res) => (err ? reject(err) : resolve(res)))
    for (let i = 1; i <= 10; i++) call.write({ n: i })
    call.end()
  })
  t.equal(sum?.n, 55)

  const echoed = await new Promise<number[]>((resolve, reject) => {
    const got: number[] = []
    const call = client.bidi()
    call.on('data', (m: Msg) => {
      got.push(m.n)
      // the next message goes only after the previous answer: a real conversation over one stream
      if (got.length < 5) call.write({ n: m.n * 10 })
      else call.end()
    })
    call.on('end', () => resolve(got))
    call.on('error', reject)
    call.write({ n: 0 })
  })
  t.same(echoed, [1, 11, 111, 1111, 11111])

  t.equal(await metricValue(c, 'cutover_grpc_requests_total{pool="x",grpc_status="OK"}'), 4)
  t.equal(await metricValue(c, 'cutover_protocol_requests_total{pool="x",protocol="h2"}'), 4)
})

t.test('a deadline: the client gets DEADLINE_EXCEEDED and the node sees the call cancelled', async (t) => {
  const x = await startEchoServer('x1', { delayMs: 1500 })
  const c = await startTestCutover({ x: [grpcNode(x.port)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await x.close()
  })
  const r = await callUnary(client, { n: 1 }, { deadline: Date.now() + 200 })
  t.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED)
  await waitUntil('the node to see the cancellation', () => x.cancelled === 1, 3000)
  t.pass('the cancel went through cutover to the node')
})

t.test('a status other than OK passes through as sent; cutover_grpc_requests_total counts it by name', async (t) => {
  const x = await startEchoServer('x1', { fail: () => grpc.status.NOT_FOUND })
  const c = await startTestCutover({ x: [grpcNode(x.port)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await x.close()
  })
  const r = await callUnary(client, { n: 1 })
  t.equal(r.err?.code, grpc.status.NOT_FOUND)
  t.equal(r.err?.details, 'x1 says no')
  t.equal(await metricValue(c, 'cutover_grpc_requests_total{pool="x",grpc_status="NOT_FOUND"}'), 1)
  t.equal(await metricValue(c, 'cutover_requests_total{pool="x",code="2xx"}'), 1, 'the HTTP status class stays 2xx')
})

t.test('no usable node: a gRPC client gets UNAVAILABLE from cutover, not an HTTP error it cannot read', async (t) => {
  const c: TestCutover = await startTestCutover({ x: [grpcNode(1)], y: [], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 0' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
  })
  const r = await callUnary(client, { n: 1 })
  t.equal(r.err?.code, grpc.status.UNAVAILABLE)
  t.equal(r.err?.details, 'upstream failed')
  t.equal(await metricValue(c, 'cutover_requests_total{pool="x",code="5xx"}'), 1)
})

t.test('gRPC to a node without an h2 address: UNAVAILABLE naming the cause, never HTTP/1.1', async (t) => {
  const c = await startTestCutover({ x: ['http://127.0.0.1:1'], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
  })
  const r = await callUnary(client, { n: 1 })
  t.equal(r.err?.code, grpc.status.UNAVAILABLE)
  t.match(r.err?.details, /no usable node has an h2 address/)
  // a gap in the config, not the node's failure: nothing counted against it
  t.equal(await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="127.0.0.1:1",kind="protocol"}'), 0)
})

t.test('a y answering UNAVAILABLE (HTTP 200, grpc-status 14) is counted by the gate and rolled back', async (t) => {
  const x = await startEchoServer('x1')
  const y = await startEchoServer('y1', { fail: () => grpc.status.UNAVAILABLE })
  const c = await startTestCutover({
    x: [grpcNode(x.port)],
    y: [grpcNode(y.port)],
    proxy: '  h2c_listen: 127.0.0.1:0',
    extra: 'split: { y: 50 }\ngates: { window: 5s, min_requests: 30, max_error_rate: 0.05 }',
  })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  let stop = false
  t.teardown(async () => {
    stop = true
    client.close()
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const codes = new Map<number, number>()
  const load = (async () => {
    while (!stop) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => callUnary(client, { n: 1 })))
      for (const r of batch) codes.set(r.err?.code ?? 0, (codes.get(r.err?.code ?? 0) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  const rollback = await waitUntil('the gate to roll back', () => c.cutover.events.since(0).find((e) => e.type === 'rollback'), 15_000)
  t.equal(rollback.cause, 'gate')
  t.equal(rollback.gate, 'max_error_rate')
  t.match(String(rollback.reason), /^gate max_error_rate: error_rate 1 > 0\.05 over \d+ requests/)
  t.ok((codes.get(grpc.status.UNAVAILABLE) ?? 0) > 0, 'the clients saw y fail with UNAVAILABLE')
  // the console's history counts them as the gate did: y's calls all failed (HTTP 200, grpc-status 14)
  const history = await c.api('GET', '/v1/history')
  const ySlots = (history.body.pools.y as { error_rate: number | null }[]).filter((p) => p.error_rate !== null)
  t.ok(ySlots.length > 0, 'y has traffic in the history')
  t.ok(
    ySlots.every((p) => p.error_rate === 1),
    `every y call is an error in the console's history: ${JSON.stringify(ySlots)}`,
  )
  const state = await c.api('GET', '/v1/state')
  t.equal(state.body.split.y, 0)
  t.equal(state.body.locked, true)
  // after the rollback every call goes to x and succeeds
  const servedByY = y.served
  await new Promise((resolve) => setTimeout(resolve, 100))
  const after = await Promise.all(Array.from({ length: 20 }, () => callUnary(client, { n: 2 })))
  t.same(
    after.map((r) => r.res?.text),
    Array(20).fill('x1'),
  )
  t.ok(y.served - servedByY <= 10, 'y gets nothing new but calls already in flight at the rollback')
  stop = true
  await load
  const unavailable = await metricValue(c, 'cutover_grpc_requests_total{pool="y",grpc_status="UNAVAILABLE"}')
  t.equal(unavailable, codes.get(grpc.status.UNAVAILABLE), "cutover_grpc_requests_total counts y's UNAVAILABLE answers, one per call the clients saw fail")
})
