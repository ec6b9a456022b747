// Long answers and the split: a server-sent event stream or a gRPC stream stays on its node
// as long as it lives, like a WebSocket. When a pool's share falls to 0 (a rollback, y at
// 100) or its node goes into maint, they are cut the way their clients reconnect from
// (EventSource reconnects, a gRPC call ends UNAVAILABLE), and the node is not blamed. An
// ordinary answer that is still streaming (a download) is left to finish.
import type * as grpc from '@grpc/grpc-js'
import http from 'node:http'
import http2 from 'node:http2'
import t, { type Test } from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml } from '../helpers/cutover.js'
import { echoClient, type Msg, startEchoServer } from '../helpers/grpc.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

interface LongNode {
  url: string
  name: string
  /** ends every open /download answer */
  finishDownloads(): void
  close(): Promise<void>
}

/** A node with /events (an event stream that never ends) and /download (a chunked answer that ends when told). */
async function longNode(name: string): Promise<LongNode> {
  const downloads = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
      res.write(`data: ${name}\n\n`)
      return
    }
    if (req.url === '/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.write(`${name}-part1;`)
      downloads.add(res)
      return
    }
    res.end(name)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    name,
    finishDownloads() {
      for (const res of downloads) res.end('part2')
      downloads.clear()
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

interface Open {
  /** the body so far */
  body(): string
  /** resolves true when the answer ended whole, false when it was cut */
  ended: Promise<boolean>
}

/** GET path through cutover; resolves once the first bytes of the body arrived. */
async function openAnswer(proxyUrl: string, path: string): Promise<Open> {
  let body = ''
  let first: () => void
  const firstBytes = new Promise<void>((resolve) => (first = resolve))
  const ended = new Promise<boolean>((resolve) => {
    http
      .get(`${proxyUrl}${path}`, { agent: false }, (res) => {
        res.setEncoding('latin1')
        res.on('data', (d: string) => {
          body += d
          first()
        })
        res.on('end', () => resolve(res.complete))
        res.on('error', () => resolve(false))
        res.on('aborted', () => resolve(false))
      })
      .on('error', () => resolve(false))
  })
  await firstBytes
  return { body: () => body, ended }
}

t.test("a rollback cuts y's event streams; a download on y in flight is left to finish; y is not blamed", async (t) => {
  const x = await longNode('x1')
  const y = await longNode('y1')
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  // the nodes first: their event streams end, so cutover's drain has none to wait for (drain_timeout)
  t.teardown(async () => {
    await Promise.all([x.close(), y.close()])
    await c.cutover.close()
  })
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const events = await openAnswer(c.proxyUrl, '/events')
  t.equal(events.body(), 'data: y1\n\n')
  const download = await openAnswer(c.proxyUrl, '/download')
  t.equal(download.body(), 'y1-part1;')

  // a share that moves without reaching 0 leaves them be
  t.equal((await c.api('PUT', '/v1/split', { y: 50 })).status, 200)
  t.equal((await c.api('POST', '/v1/rollback', { reason: 'test' })).status, 200)
  t.equal(await events.ended, false, 'the event stream was cut (its client reconnects)')
  const again = await openAnswer(c.proxyUrl, '/events')
  t.equal(again.body(), 'data: x1\n\n', 'and reconnected, lands on x')

  y.finishDownloads()
  t.equal(await download.ended, true, 'the download ended whole')
  t.equal(download.body(), 'y1-part1;part2')
  for (const kind of ['reset', 'timeout', 'protocol']) {
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="${y.url.replace('http://', '')}",kind="${kind}"}`), 0, `no ${kind} counted against y`)
  }
})

/** Nodes x1 and x2 and an event stream open on each (each pick is random: streams until both have one). */
async function streamOnEachNode(t: Test) {
  const a = await longNode('x1')
  const b = await longNode('x2')
  const c = await startTestCutover({ x: [a.url, b.url], y: [] })
  // the nodes first: their event streams end, so cutover's drain has none to wait for (drain_timeout)
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()])
    await c.cutover.close()
  })
  const open: Record<string, Open> = {}
  for (let i = 0; i < 40 && Object.keys(open).length < 2; i++) {
    const events = await openAnswer(c.proxyUrl, '/events')
    open[events.body().slice(6, 8)] ??= events
  }
  t.same(Object.keys(open).sort(), ['x1', 'x2'])
  return { a, c, open }
}

t.test('maint cuts the event streams of its node; drain leaves them be', async (t) => {
  const { c, open } = await streamOnEachNode(t)
  const name = (await c.api('GET', '/v1/state')).body.pools.x.nodes[0].name
  let cut = false
  void open.x1.ended.then(() => (cut = true))
  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(name)}`, { admin: 'drain' })).status, 200)
  // nothing to wait for but time: the stream is still open after a round trip to the API
  await c.api('GET', '/v1/state')
  t.notOk(cut, 'drain: the stream goes on')
  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(name)}`, { admin: 'maint' })).status, 200)
  t.equal(await open.x1.ended, false, 'maint: cut')
  let otherCut = false
  void open.x2.ended.then(() => (otherCut = true))
  await c.api('GET', '/v1/state')
  t.notOk(otherCut, "the other node's stream goes on")
})

t.test("a node removed by a reload has its event streams cut; the others' go on", async (t) => {
  const { a, c, open } = await streamOnEachNode(t)
  let keptCut = false
  void open.x1.ended.then(() => (keptCut = true))
  await c.cutover.reload(parseConfig(testConfigYaml({ x: [a.url], y: [] }, c.stateDir), { source: 'test' }))
  t.equal(await open.x2.ended, false, "the removed node's stream was cut")
  await c.api('GET', '/v1/state')
  t.notOk(keptCut, "the remaining node's stream goes on")
})

t.test('h2: a rollback ends gRPC streams on y UNAVAILABLE; called again, they land on x', async (t) => {
  const x = await startEchoServer('x1')
  const y = await startEchoServer('y1')
  const node = (port: number) => `{ url: http://127.0.0.1:${port}, h2: "h2c://127.0.0.1:${port}" }`
  const c = await startTestCutover({ x: [node(x.port)], y: [node(y.port)], proxy: '  h2c_listen: 127.0.0.1:0' })
  const address = `127.0.0.1:${c.cutover.h2cAddress!.port}`
  const client = echoClient(address)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)

  const call = client.bidi()
  const got: Msg[] = []
  call.on('data', (m: Msg) => got.push(m))
  const error = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve))
  call.write({ n: 1 })
  await waitUntil('the bidi call answered once', () => got.length === 1, 3000)
  t.equal(got[0].text, 'y1')

  t.equal((await c.api('POST', '/v1/rollback', { reason: 'test' })).status, 200)
  const err = await error
  t.equal(err.code, 14, 'UNAVAILABLE')
  t.equal(err.details, 'cutover moved traffic off this node: call again')

  const again = client.bidi()
  const got2: Msg[] = []
  again.on('data', (m: Msg) => got2.push(m))
  again.write({ n: 5 })
  await waitUntil('the new call answered', () => got2.length === 1, 3000)
  t.equal(got2[0].text, 'x1', 'called again, it lands on x')
  again.end()
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="127.0.0.1:${y.port}",kind="reset"}`), 0, 'y is not blamed')
})

t.test('h2: an event stream from a node over HTTP/1.1 is reset by maint', async (t) => {
  const a = await longNode('x1')
  const b = await longNode('x2')
  const c = await startTestCutover({ x: [a.url, b.url], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([a.close(), b.close()])
  })
  const name = (await c.api('GET', '/v1/state')).body.pools.x.nodes[0].name
  // streams until one is on x1
  for (let i = 0; i < 40; i++) {
    const stream = session.request({ ':path': '/events' })
    let body = ''
    stream.setEncoding('latin1')
    stream.on('data', (d: string) => (body += d))
    stream.on('error', () => undefined)
    const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)))
    await waitUntil('the first event', () => body.length >= 10, 3000)
    if (body !== 'data: x1\n\n') {
      stream.close()
      continue
    }
    t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(name)}`, { admin: 'maint' })).status, 200)
    t.equal(await closed, http2.constants.NGHTTP2_CANCEL, 'reset with CANCEL')
    return
  }
  t.fail('no stream landed on x1')
})
