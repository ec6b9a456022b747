// proxy.workers: 2 — one control plane, two data-plane processes sharing the port.
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { stickyBucket } from '../../src/routing/sticky.js'
import { tempDir } from '../helpers/cutover.js'
import { api, run, yaml, type Running } from '../helpers/process.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { openTunnel, wsNode } from '../helpers/ws-node.js'

/** A GET on a fresh connection, so the kernel hands it to either worker. */
async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; upstream: string }> {
  const res = await request(url, { headers: { connection: 'close', ...headers }, reset: true, headersTimeout: 5_000, bodyTimeout: 5_000 })
  await res.body.text()
  return { status: res.statusCode, upstream: String(res.headers['x-upstream']) }
}

function probeCounter(name: string, status = 200): Promise<TestUpstream & { probes: () => number }> {
  let probes = 0
  return startUpstream(name, (req, res) => {
    req.resume()
    if (req.url === '/status/ready') probes++
    res.writeHead(status, { 'x-upstream': name })
    res.end(name)
  }).then((u) => Object.assign(u, { probes: () => probes }))
}

async function startTwoWorkers(t: Tap, x: Pick<TestUpstream, 'url'>, y: Pick<TestUpstream, 'url'>, extra = ''): Promise<Running> {
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y.url], extra, 'workers: 2'))
  const c = await run(path)
  t.teardown(async () => {
    c.child.kill('SIGTERM')
    await c.exited
  })
  return c
}

type Tap = Pick<typeof t, 'teardown'>

function workerPids(c: Running): number[] {
  return c.logs.filter((l) => l.msg === 'worker listening').map((l) => Number(l.pid))
}

// Five scenarios, each forking a primary and two workers: about 30 s on an idle 2-core
// machine and up to a minute under load, over tap's 60 s default for a file. The file's
// own limit is a guard against a hang, not a measure of speed.
t.setTimeout(180_000)

t.test('two workers, one split: exact by sticky key in every worker, applied at once', async (t) => {
  const x = await probeCounter('x1')
  const y = await probeCounter('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTwoWorkers(t, x, y, 'split: { sticky: { header: x-consumer-id } }')
  t.equal(workerPids(c).length, 2, 'two workers listening')

  t.equal((await api(c, 'PUT', '/v1/split', { y: 30 })).status, 200)
  const wrong: string[] = []
  for (let i = 0; i < 200; i++) {
    const key = `consumer-${i}`
    const r = await get(`${c.proxyUrl}/`, { 'x-consumer-id': key })
    const expected = stickyBucket(key) < 3000 ? 'y1' : 'x1'
    if (r.upstream !== expected) wrong.push(`${key}: ${r.upstream}`)
  }
  t.same(wrong, [], 'every key went where its bucket says, whichever worker served it')

  // the API answers after the state is written; the workers hear of it within the IPC hop
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)
  const after = await Promise.all(Array.from({ length: 20 }, () => get(`${c.proxyUrl}/`)))
  t.same([...new Set(after.map((r) => r.upstream))], ['y1'], 'every worker applied y 100')
})

t.test('one gate over the sum of all workers, one set of probes, metrics summed', async (t) => {
  const x = await probeCounter('x1')
  const y = await probeCounter('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTwoWorkers(t, x, y, 'health: { active: { interval: 200ms, timeout: 150ms } }\ngates: { min_requests: 1000 }')
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)
  const sent = 100
  for (let i = 0; i < sent; i += 10) await Promise.all(Array.from({ length: 10 }, () => get(`${c.proxyUrl}/`)))
  // the workers' batches reach the primary within a flush interval (50 ms)
  // a count that stops short (a lost batch) or overshoots fails on the equal below, with its value
  let counted = 0
  await waitUntil(
    'the gate window holds the requests of both workers',
    async () => {
      counted = (await api(c, 'GET', '/v1/state')).body.gates.y.requests
      return counted >= sent
    },
    10_000,
  ).catch(() => undefined)
  t.equal(counted, sent, 'the gate window holds every request of both workers')

  const metrics = await (await fetch(`${c.controlUrl}/metrics`)).text()
  t.match(metrics, `cutover_requests_total{pool="y",code="2xx"} ${sent}`)
  t.match(metrics, `cutover_request_duration_seconds_count{pool="y"} ${sent}`)
  t.match(metrics, `cutover_request_duration_seconds_bucket{le="+Inf",pool="y"} ${sent}`)
  t.match(metrics, 'cutover_split_percent{pool="y"} 100', 'the split gauge is counted once')
  t.match(metrics, /cutover_node_healthy\{pool="y",node="[^"]+"\} 1/)
  // each worker's connections to y, summed: none busy once the traffic is over, each one opened once
  const figure = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN)
  const opened = figure(/^cutover_upstream_connections_opened_total\{pool="y",node="[^"]+"\} (\d+)$/m)
  t.equal(figure(/^cutover_upstream_connections\{pool="y",node="[^"]+",state="in_use"\} (\d+)$/m), 0)
  t.ok(opened >= 1 && opened <= 20, `opened ${opened}: up to 10 per worker for 10 requests at a time`)
  t.ok(figure(/^cutover_upstream_connections\{pool="y",node="[^"]+",state="idle"\} (\d+)$/m) <= opened)

  const before = y.probes()
  await new Promise((r) => setTimeout(r, 1000))
  const probes = y.probes() - before
  t.ok(probes >= 3 && probes <= 7, `one prober: ${probes} probes of y in 1 s at a 200 ms interval (two would be ~10)`)
})

t.test('a y failing everything is rolled back once, on the traffic of both workers', async (t) => {
  const x = await probeCounter('x1')
  const y = await probeCounter('y1', 500)
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTwoWorkers(t, x, y, 'gates: { min_requests: 40 }')
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)
  for (let i = 0; i < 80; i += 10) await Promise.all(Array.from({ length: 10 }, () => get(`${c.proxyUrl}/`)))
  type Event = { type: string; cause: string; reason: string }
  const rolledBack = async () => ((await api(c, 'GET', '/v1/events')).body as Event[]).some((e) => e.type === 'rollback')
  await waitUntil('a rollback', rolledBack, 5000)
  // locked: the gatekeeper acts no more on a locked split, so one rollback stays one
  const firstState = (await api(c, 'GET', '/v1/state')).body
  t.equal(firstState.locked, true, 'locked by the rollback')
  const events = (await api(c, 'GET', '/v1/events')).body as Event[]
  const rollbacks = events.filter((e) => e.type === 'rollback')
  t.equal(rollbacks.length, 1)
  t.equal(rollbacks[0].cause, 'gate')
  t.match(rollbacks[0].reason, /error_rate 1 > 0\.01 over \d+ requests/)
  t.same((await api(c, 'GET', '/v1/state')).body.split, { x: 100, y: 0 })
})

t.test('a worker that dies is replaced; the other keeps serving', async (t) => {
  const x = await probeCounter('x1')
  const y = await probeCounter('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTwoWorkers(t, x, y)
  const [victim] = workerPids(c)
  process.kill(victim, 'SIGKILL')
  // connections the kernel had already queued for the victim die with it; once the primary
  // knows, every new connection goes to the worker still alive
  await c.waitFor(/worker exited/)
  const during = await Promise.all(Array.from({ length: 30 }, () => get(`${c.proxyUrl}/`)))
  t.same([...new Set(during.map((r) => r.status))], [200], 'no client-visible error while one worker is gone')
  await waitUntil('a third worker listening', () => workerPids(c).length === 3, 10_000, 100)
  const events = (await api(c, 'GET', '/v1/events')).body as Array<{ type: string; pid: number }>
  t.ok(events.some((e) => e.type === 'worker.exited' && e.pid === victim))
})

t.test('SIGHUP reaches every worker: a replaced y node takes the traffic of both', async (t) => {
  const x = await probeCounter('x1')
  const y1 = await probeCounter('y1')
  const y2 = await probeCounter('y2')
  t.teardown(() => Promise.all([x.close(), y1.close(), y2.close()]))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y1.url], '', 'workers: 2'))
  const c = await run(path)
  t.teardown(async () => {
    c.child.kill('SIGTERM')
    await c.exited
  })
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)
  writeFileSync(path, yaml(dir, [x.url], [y2.url], '', 'workers: 2'))
  c.child.kill('SIGHUP')
  await c.waitFor(/config reloaded/)
  // the primary sends the new config to each worker right after its log line: poll for the IPC hop
  await waitUntil('the first request on y2', async () => (await get(`${c.proxyUrl}/`)).upstream === 'y2', 5000)
  const after = await Promise.all(Array.from({ length: 20 }, () => get(`${c.proxyUrl}/`)))
  t.same([...new Set(after.map((r) => r.upstream))], ['y2'], 'every worker routes to the new node')
  t.same(
    (await api(c, 'GET', '/v1/state')).body.pools.y.nodes.map((n: { url: string }) => n.url),
    [y2.url],
  )
})

t.test('a node put in maint has its WebSocket tunnels cut in every worker', async (t) => {
  const x = await wsNode('x1')
  const y = await wsNode('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTwoWorkers(t, x, y)
  // fresh connections, spread by the kernel over both workers
  const tunnels = await Promise.all(Array.from({ length: 6 }, () => openTunnel(c.proxyUrl)))
  t.same([...new Set(tunnels.map((tunnel) => tunnel.node))], ['x1'])
  const name = (await api(c, 'GET', '/v1/state')).body.pools.x.nodes[0].name
  t.equal((await api(c, 'PUT', `/v1/nodes/x/${encodeURIComponent(name)}`, { admin: 'maint', force: true })).status, 200)
  await Promise.all(tunnels.map((tunnel) => tunnel.closed))
  t.pass('every tunnel to x1 was cut, whichever worker held it')
  const next = await openTunnel(c.proxyUrl)
  t.equal(next.node, 'y1', 'a new one goes where traffic goes now')
  next.socket.destroy()
})

t.test("why a worker's attempt failed reaches the primary's /v1/state (last_failure)", async (t) => {
  const x = await probeCounter('x1')
  // a y that answers every request with Content-Length and Transfer-Encoding together
  const bad = net.createServer((s) => {
    s.on('error', () => undefined)
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'))
  })
  await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve))
  const y = { url: `http://127.0.0.1:${(bad.address() as net.AddressInfo).port}` }
  t.teardown(async () => {
    await x.close()
    bad.close()
  })
  const c = await startTwoWorkers(t, x, y)
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)
  t.equal((await get(`${c.proxyUrl}/a`)).status, 502)
  const node = await waitUntil(
    'the primary knows why',
    async () => {
      const n = (await api(c, 'GET', '/v1/state')).body.pools.y.nodes[0]
      return n.last_failure !== null && n
    },
    5000,
  )
  t.match(node.last_failure, { kind: 'protocol', why: 'response head refused: Content-Length with Transfer-Encoding' })
  t.equal((await api(c, 'GET', '/v1/state')).body.pools.x.nodes[0].last_failure, null)
})
