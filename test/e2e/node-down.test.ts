// Issue 3, "Done when": under a steady load of GETs, a node taken down (server closed,
// every connection cut) costs the clients nothing (retry, passive ejection, active probes);
// back on the same port it takes traffic again within interval × healthy_threshold +
// interval; a pool with every node down fails over to the other; all down is a JSON 503.
import t from 'tap'
import { request } from 'undici'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { clientErrors, pacedLoad } from './load.js'
import { PROBE_PATH, startNodeServer, type NodeServer } from './node-server.js'
import { allNodesHealthy, waitUntil } from '../helpers/wait.js'

const INTERVAL = 100
const HEALTHY_THRESHOLD = 2
const HEALTH = `health:
  active:
    path: ${PROBE_PATH}
    interval: ${INTERVAL}ms
    timeout: ${INTERVAL}ms
    healthy_threshold: ${HEALTHY_THRESHOLD}
    unhealthy_threshold: 2
  passive:
    max_failures: 3
split:
  y: 50
# Failed attempts count as y errors, and a failure needs confidence, not volume: with the
# default action a y node going down would roll y back and take it out of routing mid-test.
# This file is about health and routing, so a failing gate only pauses (no rollout runs
# here, so nothing moves); gate-rollout.test.ts covers the gates.
gates:
  action: pause
`
// the bound, and what a loaded 2-core machine may add to it (timers, probe latency)
const BACK_WITHIN_MS = INTERVAL * HEALTHY_THRESHOLD + INTERVAL
const MARGIN_MS = 400
const RATE = 300

async function fourNodes(): Promise<NodeServer[]> {
  return Promise.all(['x1', 'x2', 'y1', 'y2'].map((name) => startNodeServer(name)))
}

async function start(t: { teardown(fn: () => Promise<void>): void }, nodes: NodeServer[]): Promise<TestCutover> {
  const c = await startTestCutover({ x: [nodes[0].url, nodes[1].url], y: [nodes[2].url, nodes[3].url], extra: HEALTH })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all(nodes.map((n) => n.close()))
  })
  // from here on every node has a verdict, so routing follows the probes
  await waitUntil('every node healthy', () => allNodesHealthy(c), 3000)
  return c
}

/** The id of the newest event so far: later events are the ones after it. */
const lastEventId = (c: TestCutover): number => c.cutover.events.since(0).at(-1)?.id ?? 0

/** Poll until the load has sent n more requests than `from`: a window of traffic, not a sleep. */
const moreRequests = (load: { tally: { sent: number } }, from: number, n: number) => waitUntil(`${n} more requests`, () => load.tally.sent >= from + n, 5000, 5)

t.test('any single node down under load: no client error; back on its port, it takes traffic again in time', async (t) => {
  const nodes = await fourNodes()
  const c = await start(t, nodes)
  const load = pacedLoad(c.proxyUrl, { rate: RATE, durationMs: 9000, maxInflight: 20 })
  t.teardown(() => load.stop())
  await moreRequests(load, 0, RATE / 5)

  const back: Record<string, number> = {}
  for (const node of nodes) {
    const label = `127.0.0.1:${node.port}`
    const from = lastEventId(c)
    await node.down()
    // the probes mark it unhealthy (2 × INTERVAL); only then does it come back, so they see
    // it return (an ejection alone would keep it out for eject_for)
    await waitUntil(`${node.name} marked unhealthy`, () => c.cutover.events.since(from).some((e) => e.type === 'node.unhealthy' && e.node === label), 3000, 5)
    await node.up()
    try {
      // bounded, so a node that never comes back fails the assertion below, not the file
      await waitUntil(`${node.name} serving again`, () => node.firstServedAt > 0, BACK_WITHIN_MS + MARGIN_MS + 500, 5)
      back[node.name] = node.firstServedAt - node.upAt
    } catch {
      back[node.name] = Infinity
    }
  }
  load.stop()
  const tally = await load.done

  t.equal(clientErrors(tally), 0, `no client-visible error in ${tally.sent} requests: ${tally.problems.join('; ')}`)
  for (const [name, ms] of Object.entries(back)) {
    t.ok(ms <= BACK_WITHIN_MS + MARGIN_MS, `${name} took traffic ${Math.round(ms)} ms after coming back (bound ${BACK_WITHIN_MS} ms + ${MARGIN_MS} ms margin)`)
  }
  const events = c.cutover.events.since(0)
  for (const node of nodes) {
    const label = `127.0.0.1:${node.port}`
    t.ok(
      events.some((e) => (e.type === 'node.unhealthy' || e.type === 'node.ejected') && e.node === label),
      `${node.name} was taken out (probe or ejection)`,
    )
  }
})

t.test('every y node down: traffic fails over to x without errors; everything down: 503 JSON', async (t) => {
  const nodes = await fourNodes()
  const c = await start(t, nodes)
  const load = pacedLoad(c.proxyUrl, { rate: RATE, durationMs: 6000, maxInflight: 20 })
  t.teardown(() => load.stop())
  await waitUntil('y serving its share before', () => nodes[2].served + nodes[3].served > 0, 3000, 5)

  await Promise.all([nodes[2].down(), nodes[3].down()])
  await waitUntil(
    'y unhealthy',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.pools.y.nodes.every((n: { healthy: boolean }) => n.healthy === false)
    },
    3000,
  )
  const xBefore = (load.tally.upstreams.x1 ?? 0) + (load.tally.upstreams.x2 ?? 0)
  const sentBefore = load.tally.sent
  // a window of traffic with y down: at RATE, about half a second
  await moreRequests(load, sentBefore, RATE / 2)
  load.stop()
  const tally = await load.done

  t.equal(clientErrors(tally), 0, `no client-visible error in ${tally.sent} requests: ${tally.problems.join('; ')}`)
  const xAfter = (tally.upstreams.x1 ?? 0) + (tally.upstreams.x2 ?? 0)
  t.ok(xAfter - xBefore >= (tally.sent - sentBefore) * 0.9, `x served everything once y was down (${xAfter - xBefore} of ${tally.sent - sentBefore}; in-flight ones may count before)`)
  const state = await c.api('GET', '/v1/state')
  t.same(state.body.split, { x: 50, y: 50 }, 'the split itself is unchanged: failover is routing (the gates are out of this file)')

  await Promise.all([nodes[0].down(), nodes[1].down()])
  await waitUntil('readyz 503', async () => (await fetch(`${c.controlUrl}/readyz`)).status === 503, 3000)
  const res = await request(`${c.proxyUrl}/orders`)
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /application\/json/)
  const body = (await res.body.json()) as { message: unknown }
  t.type(body.message, 'string', 'a Kong-like {"message": ...} body')
})
