import { spawnSync } from 'node:child_process'
import net from 'node:net'
import t from 'tap'
import type { NodeConfig, PoolName } from '../../src/config/types.js'
import { Metrics, NAMED_LIKE_COUNTERS } from '../../src/metrics/metrics.js'
import type { UpstreamConnection } from '../../src/upstream/connection.js'
import { UpstreamNode } from '../../src/upstream/node.js'
import { waitUntil } from '../helpers/wait.js'

function node(pool: PoolName, port: number): UpstreamNode {
  const config: NodeConfig = { url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, name: `127.0.0.1:${port}`, protocol: 'http:', hostname: '127.0.0.1', port, weight: 1 }
  return new UpstreamNode(pool, config, { connectTimeout: 1000, headersTimeout: 1000 })
}

t.test('every SPEC metric is present with its labels after traffic', async (t) => {
  const x1 = node('x', 8001)
  const y1 = node('y', 8002)
  t.teardown(() => Promise.all([x1.dispatcher.close(), y1.dispatcher.close()]))
  const nodes = { x: [x1], y: [y1] }
  x1.inflight = 2
  let y = 12.5
  const metrics = new Metrics(
    {
      splitY: () => y,
      health: { nodes: () => nodes, isHealthy: (n) => n === x1 },
      gates: () => [
        { gate: 'max_error_rate', figure: 0.02, verdict: 'fail' },
        { gate: 'max_p99_ms', figure: null, verdict: 'none' },
      ],
      inflight: () => ({ x: 2, y: 0 }),
    },
    { processMetrics: false },
  )
  metrics.setNodes(nodes)
  metrics.finished('x', 200, 12)
  metrics.finished('x', 204, 3)
  metrics.finished('y', 503, 1500)
  metrics.finished('y', 101, 1)
  metrics.attemptFailed(y1, 'connect')
  metrics.attemptFailed(y1, 'timeout')
  metrics.rollback('gate')
  metrics.ejected(y1.pool, y1.name)
  metrics.authFailure()
  metrics.shed()
  metrics.refused('framing')
  y = 33.33
  const { body, contentType } = await metrics.render()
  t.match(contentType, /text\/plain/)
  t.match(body, 'cutover_requests_total{pool="x",code="2xx"} 2')
  t.match(body, 'cutover_requests_total{pool="y",code="5xx"} 1')
  t.match(body, 'cutover_requests_total{pool="y",code="1xx"} 1')
  t.match(body, 'cutover_request_duration_seconds_bucket{le="0.025",pool="x"} 2')
  t.match(body, 'cutover_request_duration_seconds_count{pool="y"} 2')
  t.match(body, 'cutover_request_duration_seconds_sum{pool="y"} 1.501')
  t.match(body, 'cutover_request_duration_seconds_bucket{le="1",pool="y"} 1')
  t.match(body, 'cutover_request_duration_seconds_bucket{le="2.5",pool="y"} 2')
  t.match(body, '# TYPE cutover_request_duration_seconds histogram')
  t.match(body, 'cutover_upstream_errors_total{pool="y",node="127.0.0.1:8002",kind="connect"} 1')
  t.match(body, 'cutover_upstream_errors_total{pool="y",node="127.0.0.1:8002",kind="timeout"} 1')
  t.match(body, 'cutover_upstream_errors_total{pool="x",node="127.0.0.1:8001",kind="reset"} 0')
  t.match(body, 'cutover_split_percent{pool="y"} 33.33')
  t.match(body, 'cutover_split_percent{pool="x"} 66.67')
  t.match(body, 'cutover_node_healthy{pool="x",node="127.0.0.1:8001"} 1')
  t.match(body, 'cutover_node_healthy{pool="y",node="127.0.0.1:8002"} 0')
  t.match(body, 'cutover_rollbacks_total{trigger="gate"} 1')
  t.match(body, 'cutover_rollbacks_total{trigger="api"} 0')
  t.match(body, 'cutover_requests_in_flight{pool="x"} 2')
  t.match(body, 'cutover_node_ejections_total{pool="y",node="127.0.0.1:8002"} 1')
  t.match(body, 'cutover_control_auth_failures_total 1')
  t.match(body, 'cutover_shed_total 1')
  t.match(body, 'cutover_requests_refused_total{reason="framing"} 1')
  t.match(body, 'cutover_requests_refused_total{reason="header_timeout"} 0')
  t.match(body, 'cutover_gate_figure{gate="max_error_rate"} 0.02')
  t.match(body, 'cutover_gate_verdict{gate="max_error_rate"} -1')
  t.match(body, 'cutover_gate_verdict{gate="max_p99_ms"} 0')
  t.notMatch(body, 'cutover_gate_figure{gate="max_p99_ms"}')
  t.notMatch(body, 'process_cpu', 'process metrics off when asked')

  // counts kept between scrapes are added once, not again
  metrics.finished('x', 200, 1)
  const again = (await metrics.render()).body
  t.match(again, 'cutover_requests_total{pool="x",code="2xx"} 3')
  t.match((await metrics.render()).body, 'cutover_requests_total{pool="x",code="2xx"} 3')
})

t.test('removed nodes drop out of the health gauge', async (t) => {
  const a = node('x', 8011)
  const b = node('x', 8012)
  t.teardown(() => Promise.all([a.dispatcher.close(), b.dispatcher.close()]))
  let nodes: Record<PoolName, UpstreamNode[]> = { x: [a, b], y: [] }
  const metrics = new Metrics({ splitY: () => 0, health: { nodes: () => nodes, isHealthy: () => true }, inflight: () => ({ x: 0, y: 0 }) })
  metrics.setNodes(nodes)
  t.match((await metrics.render()).body, 'node="127.0.0.1:8012"')
  t.match((await metrics.render()).body, 'process_cpu_user_seconds_total', 'process metrics on by default')
  b.removed = true
  nodes = { x: [a], y: [] }
  metrics.setNodes(nodes)
  t.notMatch((await metrics.render()).body, 'cutover_node_healthy{pool="x",node="127.0.0.1:8012"}')
})

t.test(
  'the whole scrape, Node process metrics included, passes promtool check metrics',
  { skip: spawnSync('promtool', ['--version']).status === 0 ? false : 'promtool not installed (apt-get install prometheus)' },
  async (t) => {
    const x1 = node('x', 8011)
    t.teardown(() => x1.dispatcher.close())
    const metrics = new Metrics({ splitY: () => 10, health: { nodes: () => ({ x: [x1], y: [] }), isHealthy: () => true }, gates: () => [], inflight: () => ({ x: 0, y: 0 }) })
    metrics.setNodes({ x: [x1], y: [] })
    metrics.finished('x', 200, 5)
    const { body } = await metrics.render()
    t.match(body, /^nodejs_active_handles\{/m, 'the per-type gauges stay')
    for (const name of NAMED_LIKE_COUNTERS) t.notMatch(body, new RegExp(`^${name}\\b`, 'm'), `${name} is dropped`)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })
    t.equal(check.status, 0, check.stdout + check.stderr)
    t.equal(check.stdout + check.stderr, '', 'no naming problem reported')
  },
)

t.test("each node's connection pool: open connections by state, requests waiting at the cap, connections opened", async (t) => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined).resume()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  const config: NodeConfig = { url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, name: `127.0.0.1:${port}`, protocol: 'http:', hostname: '127.0.0.1', port, weight: 1 }
  const first = new UpstreamNode('y', config, { connectTimeout: 1000, maxConnections: 1 })
  let nodes: Record<PoolName, UpstreamNode[]> = { x: [], y: [first] }
  const metrics = new Metrics({ connections: () => nodes }, { processMetrics: false })
  const later: UpstreamNode[] = []
  t.teardown(async () => {
    await Promise.all([first, ...later].map((n) => n.dispatcher.destroy()))
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })
  const series = async (): Promise<Record<string, number>> => {
    const { body } = await metrics.render()
    const out: Record<string, number> = {}
    for (const m of body.matchAll(/^(cutover_upstream_[a-z_]+)\{pool="y",node="[^"]+"(?:,state="(\w+)")?\} (\d+)$/gm)) out[m[2] === undefined ? m[1] : `${m[1]}.${m[2]}`] = Number(m[3])
    return out
  }
  t.same(
    await series(),
    { 'cutover_upstream_connections.in_use': 0, 'cutover_upstream_connections.idle': 0, cutover_upstream_requests_waiting: 0, cutover_upstream_connections_opened_total: 0 },
    'every series from the start, at 0',
  )

  const granted: UpstreamConnection[] = []
  const waiter = { granted: (c: UpstreamConnection) => granted.push(c), moved: () => undefined }
  const conn = first.dispatcher.acquire(waiter, 0)!
  t.equal(first.dispatcher.acquire(waiter, 0), null, 'the second request waits at the cap of 1')
  t.equal(first.dispatcher.acquire(waiter, 0), null)
  await waitUntil('connected', () => conn.connected, 2000)
  t.same(await series(), { 'cutover_upstream_connections.in_use': 1, 'cutover_upstream_connections.idle': 0, cutover_upstream_requests_waiting: 2, cutover_upstream_connections_opened_total: 1 })

  first.dispatcher.release(conn, 1)
  t.equal(granted.length, 1, 'a released connection goes to the first waiter')
  first.dispatcher.release(conn, 2)
  first.dispatcher.release(conn, 3)
  t.same(
    await series(),
    { 'cutover_upstream_connections.in_use': 0, 'cutover_upstream_connections.idle': 1, cutover_upstream_requests_waiting: 0, cutover_upstream_connections_opened_total: 1 },
    'one connection carried the three; the counter is not counted again',
  )

  // a reload that replaces the node (same name): its counter goes on from where it was
  const second = new UpstreamNode('y', config, { connectTimeout: 1000 })
  later.push(second)
  nodes = { x: [], y: [second] }
  second.dispatcher.acquire(waiter, 0)
  second.dispatcher.acquire(waiter, 0)
  const after = await series()
  t.equal(after.cutover_upstream_connections_opened_total, 3, 'never goes back')
  t.equal(after['cutover_upstream_connections.in_use'], 2)
  t.equal(after['cutover_upstream_connections.idle'], 0, "the replaced node's idle connection is not counted")
})
