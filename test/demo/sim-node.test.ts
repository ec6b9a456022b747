import t from 'tap'
import { Agent, request } from 'undici'
import { FakeClock, seededRandom } from '../../src/clock.js'
import { startSimNode, type SimNode } from '../../src/demo/sim-node.js'

const agent = new Agent({ keepAliveTimeout: 1000 })
t.teardown(() => agent.close())

async function get(url: string, init: { method?: 'GET' | 'POST'; body?: string } = {}) {
  const res = await request(url, { dispatcher: agent, method: init.method ?? 'GET', body: init.body })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> }
}

async function started(t: { teardown(fn: () => unknown): void }, options: Parameters<typeof startSimNode>[0]): Promise<SimNode> {
  const node = await startSimNode(options)
  t.teardown(() => node.close())
  return node
}

/** Let I/O run until cond holds (no fixed sleeps; bounded so a broken test fails, not hangs). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

t.test('answers every path with a JSON echo and Kong-like headers', async (t) => {
  const node = await started(t, { pool: 'x', version: '3.4.2', name: 'x1' })
  t.match(node.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const a = await get(`${node.url}/orders/7?x=1`)
  t.equal(a.status, 200)
  t.same(a.json, { node: 'x1', version: '3.4.2', path: '/orders/7?x=1', method: 'GET' })
  t.equal(a.headers.server, 'kong/3.4.2')
  t.equal(a.headers['x-upstream-node'], 'x1')
  t.match(a.headers['content-type'], /application\/json/)
  const b = await get(`${node.url}/upload`, { method: 'POST', body: 'x'.repeat(100_000) })
  t.equal(b.status, 200)
  t.equal(b.json.method, 'POST')
})

t.test('the default name is the pool name', async (t) => {
  const node = await started(t, { pool: 'y', version: '3.9.1' })
  t.equal((await get(node.url)).json.node, 'y')
})

t.test('error rate follows the seeded random: lower half 500, upper half 503', async (t) => {
  const node = await started(t, { pool: 'y', version: '3.9.1', errorRate: 0.3, random: seededRandom(42) })
  const replay = seededRandom(42)
  const counts = { 200: 0, 500: 0, 503: 0 } as Record<number, number>
  for (let i = 0; i < 200; i++) {
    const r = replay()
    const expected = r < 0.15 ? 500 : r < 0.3 ? 503 : 200
    const res = await get(`${node.url}/r${i}`)
    t.equal(res.status, expected, `request ${i}`, { diagnostic: false })
    if (res.status !== 200) {
      t.equal(typeof res.json.message, 'string')
      t.equal(res.headers.server, 'kong/3.9.1', 'errors come from Kong too')
    }
    counts[res.status]++
  }
  // 200 draws at p=0.3: the error share must land well inside 0.3 +- 0.1
  const errorShare = (counts[500] + counts[503]) / 200
  t.ok(errorShare > 0.2 && errorShare < 0.4, `error share ${errorShare}`)
  t.ok(counts[500] > 0 && counts[503] > 0, 'both kinds occur')
})

t.test('setErrorRate changes the rate at run time and refuses bad values', async (t) => {
  const node = await started(t, { pool: 'y', version: '3.9.1' })
  t.equal((await get(node.url)).status, 200)
  node.setErrorRate(1)
  for (let i = 0; i < 5; i++) t.ok((await get(node.url)).status >= 500)
  node.setErrorRate(0)
  t.equal((await get(node.url)).status, 200)
  t.throws(() => node.setErrorRate(1.5), { code: 'CUTOVER_ERR_USAGE' })
  t.throws(() => node.setLatency(-1), { code: 'CUTOVER_ERR_USAGE' })
  await t.rejects(startSimNode({ pool: 'y', version: '1', errorRate: -0.1 }), { code: 'CUTOVER_ERR_USAGE' })
})

t.test('latency delays the answer on a timer (real clock)', async (t) => {
  const node = await started(t, { pool: 'y', version: '3.9.1', latencyMs: 300 })
  await get(`${node.url}/status`) // warm the connection so only the delay is measured
  let start = performance.now()
  t.equal((await get(`${node.url}/slow`)).status, 200)
  const slow = performance.now() - start
  // timers may fire a little early by rounding; 290 leaves room for that
  t.ok(slow >= 290, `delayed ${slow.toFixed(0)} ms`)
  start = performance.now()
  await get(`${node.url}/status/ready`)
  // generous: a loaded machine may be slow, but not by the whole 300 ms latency
  t.ok(performance.now() - start < 250, 'status endpoints are not delayed')
})

t.test('latency with a fake clock: no answer until the clock moves', async (t) => {
  const clock = new FakeClock()
  const node = await started(t, { pool: 'x', version: '3.4.2', latencyMs: 300, clock })
  let answered = false
  const pending = get(`${node.url}/a`).then((r) => {
    answered = true
    return r
  })
  await until(() => clock.pending === 1, 'the latency timer')
  clock.advance(299)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(answered, false, 'not answered before the latency passed')
  node.setLatency(0)
  clock.advance(1)
  t.equal((await pending).status, 200)
  t.equal((await get(`${node.url}/b`)).status, 200, 'setLatency(0) answers at once')
  t.equal(clock.pending, 0)
})

t.test('readiness flips after readyAfterMs (fake clock), on both ports', async (t) => {
  const clock = new FakeClock()
  const node = await started(t, { pool: 'y', version: '3.9.1', readyAfterMs: 5000, clock })
  const status = `http://127.0.0.1:${node.statusPort}`
  for (const base of [status, node.url]) {
    const r = await get(`${base}/status/ready`)
    t.equal(r.status, 503)
    t.same(r.json, { message: 'no configuration available (empty configuration present)' })
    t.equal((await get(`${base}/status`)).status, 200, '/status is live before ready')
  }
  clock.advance(4999)
  t.equal((await get(`${status}/status/ready`)).status, 503)
  clock.advance(1)
  for (const base of [status, node.url]) {
    const r = await get(`${base}/status/ready`)
    t.equal(r.status, 200)
    t.same(r.json, { message: 'ready' })
  }
})

t.test('readiness flips after a real 200 ms; status port 404s other paths', async (t) => {
  const node = await started(t, { pool: 'y', version: '3.9.1', readyAfterMs: 200, errorRate: 1 })
  const status = `http://127.0.0.1:${node.statusPort}`
  t.not(node.statusPort, node.port)
  t.equal((await get(`${status}/status/ready`)).status, 503)
  t.equal((await get(`${node.url}/status/ready`)).status, 503, 'not failed by the error rate: it is a readiness answer')
  await new Promise((r) => setTimeout(r, 220))
  t.equal((await get(`${status}/status/ready`)).status, 200)
  t.equal((await get(`${node.url}/status/ready`)).status, 200, 'errorRate never hits the status endpoints')
  const other = await get(`${status}/orders`)
  t.equal(other.status, 404)
  t.equal(other.json.message, 'Not found')
})

t.test('close frees both ports and is idempotent', async (t) => {
  const node = await startSimNode({ pool: 'x', version: '3.4.2', latencyMs: 10_000 })
  await get(`${node.url}/status`)
  // a request parked on the latency timer must not hold close() open
  const parked = request(`${node.url}/parked`, { dispatcher: agent }).catch((err: unknown) => err)
  await new Promise((r) => setTimeout(r, 30))
  const start = performance.now()
  await node.close()
  await node.close()
  t.ok(performance.now() - start < 1000, 'closed promptly')
  t.ok((await parked) instanceof Error, 'the parked request was cut')
  await t.rejects(request(`${node.url}/`, { dispatcher: agent }), { code: 'ECONNREFUSED' })
  await t.rejects(request(`http://127.0.0.1:${node.statusPort}/status`, { dispatcher: agent }), { code: 'ECONNREFUSED' })
})
