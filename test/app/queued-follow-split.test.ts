// Requests in line for a connection (proxy.upstream_max_connections) and the split: nothing
// of such a request has gone to a node yet, so when its node must not take traffic any more
// (a rollback, maint, a reload removed it) it is routed again at once, instead of waiting for
// the slow node that caused the rollback, up to request_timeout.
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

interface HoldingNode {
  url: string
  /** requests that arrived, by path */
  seen: string[]
  /** answer every held request */
  release(): void
  close(): Promise<void>
}

/** A node that holds /hold until release(), answers anything else at once with its name. */
async function holdingNode(name: string): Promise<HoldingNode> {
  const held: http.ServerResponse[] = []
  const seen: string[] = []
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '')
    if (req.url === '/hold') held.push(res)
    else if (req.url === '/upload') {
      // the body's length and digest, to show it arrived whole
      const hash = createHash('sha256')
      let length = 0
      req.on('data', (d: Buffer) => {
        hash.update(d)
        length += d.length
      })
      req.on('end', () => res.end(`${name} ${length} ${hash.digest('hex')}`))
    } else res.end(name)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    release() {
      for (const res of held.splice(0)) res.end(`${name}-held`)
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

const proxy = '  upstream_max_connections: 1\n  request_timeout: 20s'

/** x1 and y1 with one connection each, y at 100, and y's connection held by a request: the next ones wait for it. */
async function yHeld(t: Test) {
  const x = await holdingNode('x1')
  const y = await holdingNode('y1')
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const yName = y.url.replace('http://', '')
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const inFlight = request(`${c.proxyUrl}/hold`)
  await waitUntil('y holds the first request', () => y.seen.length === 1, 3000)
  return { y, c, yName, inFlight }
}

t.test('a rollback sends the requests waiting for a connection of y to x at once; the one in flight on y finishes there', async (t) => {
  const { y, c, yName, inFlight } = await yHeld(t)
  const queued = [request(`${c.proxyUrl}/a`), request(`${c.proxyUrl}/b`)]
  await waitUntil('two wait for y', async () => (await metricValue(c, `cutover_upstream_requests_waiting{pool="y",node="${yName}"}`)) === 2, 3000)

  t.equal((await c.api('POST', '/v1/rollback', { reason: 'y is slow' })).status, 200)
  const answers = await Promise.all(queued.map(async (p) => (await (await p).body.text()) as string))
  t.same(answers, ['x1', 'x1'], 'the waiting requests went to x')
  t.same(y.seen, ['/hold'], 'y never saw them')
  t.equal(await metricValue(c, `cutover_upstream_requests_waiting{pool="y",node="${yName}"}`), 0)

  y.release()
  t.equal(await (await inFlight).body.text(), 'y1-held', 'the request y had already taken is answered by y')
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="y",node="${yName}",kind="timeout"}`), 0, 'y is not blamed')
})

/** x1 and x2 with one connection each, x2 drained: a hold on x1 and two requests waiting behind it. */
async function twoWaitingOnX1(t: Test) {
  const a = await holdingNode('x1')
  const b = await holdingNode('x2')
  const c = await startTestCutover({ x: [a.url, b.url], y: [], proxy })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([a.close(), b.close()])
  })
  const aName = a.url.replace('http://', '')
  const bName = b.url.replace('http://', '')
  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(bName)}`, { admin: 'drain' })).status, 200)
  const held = request(`${c.proxyUrl}/hold`)
  await waitUntil('x1 holds a request', () => a.seen.length === 1, 3000)
  const queued = [request(`${c.proxyUrl}/a`), request(`${c.proxyUrl}/b`)]
  await waitUntil('two wait for x1', async () => (await metricValue(c, `cutover_upstream_requests_waiting{pool="x",node="${aName}"}`)) === 2, 3000)
  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(bName)}`, { admin: 'ready' })).status, 200)
  return { a, b, c, aName, held, queued }
}

t.test('requests waiting for a node put in maint go to another node', async (t) => {
  const { a, b, c, aName, held, queued } = await twoWaitingOnX1(t)
  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(aName)}`, { admin: 'maint' })).status, 200)
  const answers = await Promise.all(queued.map(async (p) => (await p).body.text()))
  t.same(answers, ['x2', 'x2'])
  t.same(b.seen, ['/a', '/b'])
  a.release()
  t.equal(await (await held).body.text(), 'x1-held')
})

t.test('requests waiting for a node a reload removed go to another node', async (t) => {
  const { a, b, c, held, queued } = await twoWaitingOnX1(t)
  await c.cutover.reload(parseConfig(testConfigYaml({ x: [b.url], y: [] }, c.stateDir), { source: 'test' }))
  const answers = await Promise.all(queued.map(async (p) => (await p).body.text()))
  t.same(answers, ['x2', 'x2'])
  a.release()
  t.equal(await (await held).body.text(), 'x1-held', "the removed node's request in flight finishes")
})

t.test("h2 clients: a rollback sends the streams waiting for y's HTTP/1.1 connection to x at once", async (t) => {
  const x = await holdingNode('x1')
  const y = await holdingNode('y1')
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy: `${proxy}\n  h2c_listen: 127.0.0.1:0` })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const inFlight = h2Request(session, { ':path': '/hold' })
  await waitUntil('y holds the first stream', () => y.seen.length === 1, 3000)
  const queued = [h2Request(session, { ':path': '/a' }), h2Request(session, { ':path': '/b' })]
  // three attempts on y, one of them held: the other two wait in line for its connection (in Node's agent: counted all the same)
  const yName = y.url.replace('http://', '')
  await waitUntil('two wait for y', async () => (await metricValue(c, `cutover_upstream_requests_waiting{pool="y",node="${yName}"}`)) === 2, 3000)
  t.same(y.seen, ['/hold'])
  t.equal((await c.api('POST', '/v1/rollback', { reason: 'y is slow' })).status, 200)
  const answers = await Promise.all(queued)
  t.same(
    answers.map((a) => a.body),
    ['x1', 'x1'],
    'the waiting streams went to x',
  )
  t.same(y.seen, ['/hold'], 'y never saw them')
  t.equal(await metricValue(c, `cutover_upstream_requests_waiting{pool="y",node="${yName}"}`), 0)
  y.release()
  t.equal((await inFlight).body, 'y1-held')
})

t.test('a POST whose body waits with it for y goes to x whole', async (t) => {
  const { y, c, yName, inFlight } = await yHeld(t)
  const body = randomBytes(300_000)
  const post = request(`${c.proxyUrl}/upload`, { method: 'POST', body })
  await waitUntil('the POST waits for y', async () => (await metricValue(c, `cutover_upstream_requests_waiting{pool="y",node="${yName}"}`)) === 1, 3000)
  t.equal((await c.api('POST', '/v1/rollback', { reason: 'y is slow' })).status, 200)
  const res = await post
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), `x1 ${body.length} ${createHash('sha256').update(body).digest('hex')}`, 'x got the body whole')
  y.release()
  await (await inFlight).body.text()
})
