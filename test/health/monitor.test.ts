import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import t from 'tap'
import { FakeClock, systemClock, type Clock } from '../../src/clock.js'
import type { Config, NodeConfig, PoolName } from '../../src/config/types.js'
import { HealthMonitor } from '../../src/health/monitor.js'
import type { ProbeResult } from '../../src/health/probe-state.js'
import type { ProbeFn } from '../../src/health/prober.js'
import { EventLog, type CutoverEvent } from '../../src/state/events.js'
import { UpstreamNode } from '../../src/upstream/node.js'
import { activeHealth as active } from '../helpers/fixtures.js'

const created: UpstreamNode[] = []
t.teardown(async () => {
  await Promise.all(created.map((n) => n.dispatcher.close()))
})

function makeNode(url: string, pool: PoolName): UpstreamNode {
  const u = new URL(url)
  const config: NodeConfig = { url, origin: u.origin, name: u.host, protocol: 'http:', hostname: u.hostname, port: Number(u.port), weight: 1 }
  const node = new UpstreamNode(pool, config, { connectTimeout: 1000, headersTimeout: 1000 })
  created.push(node)
  return node
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r))

async function tick(clock: FakeClock, ms: number, step = 50): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done))
    await flush()
  }
}

function captureLogger() {
  const lines: Array<[string, Record<string, unknown>, string]> = []
  const logger = {
    info: (obj: Record<string, unknown>, msg: string) => lines.push(['info', obj, msg]),
    warn: (obj: Record<string, unknown>, msg: string) => lines.push(['warn', obj, msg]),
  } as unknown as Logger
  return { logger, lines }
}

/** A monitor over fresh nodes x1..xN and y1..yM; probe answers come from `answers` by node name. */
function setup(opts: { x?: number; y?: number; health?: Partial<Config['health']>; clock?: Clock } = {}) {
  const clock = (opts.clock ?? new FakeClock()) as FakeClock
  const events = new EventLog(clock)
  const { logger, lines } = captureLogger()
  const answers = new Map<string, ProbeResult>()
  const probed: string[] = []
  const probe: ProbeFn = async (node) => {
    probed.push(node.name)
    return answers.get(node.name) ?? { ok: true, status: 200, ms: 1 }
  }
  let changes = 0
  const mk = (pool: PoolName, n: number, base: number) => Array.from({ length: n }, (_, i) => makeNode(`http://10.${base}.0.${i + 1}:8000`, pool))
  const nodes = { x: mk('x', opts.x ?? 2, 1), y: mk('y', opts.y ?? 2, 2) }
  const health: Config['health'] = { passive: { max_failures: 3, eject_for: 1000 }, ...opts.health }
  const monitor = new HealthMonitor({
    health,
    clock,
    events,
    logger,
    probe,
    onChange: () => changes++,
  })
  monitor.setNodes(nodes)
  const ofType = (type: string): CutoverEvent[] => events.since(0).filter((e) => e.type === type)
  return { clock, events, lines, answers, probed, monitor, nodes, ofType, changes: () => changes }
}

t.test('without active checks nodes count as healthy and nothing is probed', async (t) => {
  const s = setup()
  t.same(
    [...s.nodes.x, ...s.nodes.y].map((n) => n.healthy),
    [true, true, true, true],
  )
  s.monitor.start()
  await tick(s.clock, 5000, 500)
  t.equal(s.probed.length, 0)
  t.ok(s.monitor.isUsable(s.nodes.x[0]))
  s.monitor.stop()
})

t.test('unknown start: no verdict in the pool means usable, one verdict ends that', async (t) => {
  const s = setup({ health: { active: active() } })
  const [x1, x2] = s.nodes.x
  t.equal(x1.healthy, null)
  t.ok(s.monitor.isUsable(x1) && s.monitor.isUsable(x2), 'no verdict yet: traffic is not black-holed')
  x1.healthy = true
  t.ok(s.monitor.isUsable(x1))
  t.notOk(s.monitor.isUsable(x2), 'x2 unknown while x1 has a verdict')
  t.ok(s.monitor.isUsable(s.nodes.y[0]), 'the other pool is judged on its own')
  x1.healthy = false
  t.notOk(s.monitor.isUsable(x1))
  t.notOk(s.monitor.isUsable(x2))
  x2.healthy = null
  x1.healthy = null
  x1.removed = true
  t.notOk(s.monitor.isUsable(x1), 'removed nodes take nothing')
})

t.test('503 then 200: unhealthy then healthy, with events, logs and onChange', async (t) => {
  const s = setup({ x: 1, y: 1, health: { active: active({ interval: 1000, healthy_threshold: 2, unhealthy_threshold: 2 }) } })
  const x1 = s.nodes.x[0]
  s.answers.set(x1.name, { ok: false, status: 503, error: 'status 503', ms: 4 })
  s.monitor.start()
  const before = s.changes()
  await tick(s.clock, 1001)
  t.equal(x1.healthy, false)
  t.same(
    s.ofType('node.unhealthy').map((e) => ({ pool: e.pool, node: e.node, cause: e.cause })),
    [{ pool: 'x', node: x1.name, cause: 'probe failed 2/2: status 503' }],
  )
  t.ok(s.changes() > before, 'onChange on the verdict')
  t.ok(s.lines.some(([level, obj]) => level === 'warn' && obj.cause === 'probe failed 2/2: status 503'))
  t.notOk(s.monitor.isUsable(x1))
  t.same(s.monitor.readiness(0), { ready: false, reason: 'no usable node in pool x' })
  const d = s.monitor.describe(x1)
  t.same(d.last_probe, { ok: false, at: new Date(s.clock.now() - 1).toISOString(), status: 503, error: 'status 503', ms: 4 })

  s.answers.set(x1.name, { ok: true, status: 200, ms: 2 })
  await tick(s.clock, 1000)
  t.equal(x1.healthy, false, 'one success is not enough')
  await tick(s.clock, 1000)
  t.equal(x1.healthy, true)
  t.same(
    s
      .ofType('node.healthy')
      .filter((e) => e.node === x1.name)
      .map((e) => e.cause),
    ['probe passed 2/2'],
  )
  t.ok(s.lines.some(([level, obj]) => level === 'info' && obj.cause === 'probe passed 2/2'))
  t.ok(s.monitor.isUsable(x1))
  s.monitor.stop()
})

t.test('passive ejection after gateway failures, never after application 500s', async (t) => {
  const s = setup({ x: 3 })
  const [x1, x2] = s.nodes.x
  for (let i = 0; i < 10; i++) s.monitor.answered(x1, 500, 5)
  t.equal(x1.ejectedUntil, 0, 'ordinary 500s do not eject')
  s.monitor.answered(x1, 502, 5)
  s.monitor.answered(x1, 503, 5)
  s.monitor.answered(x1, 404, 5)
  s.monitor.answered(x1, 502, 5)
  s.monitor.answered(x1, 503, 5)
  t.equal(x1.ejectedUntil, 0, 'a 404 in between resets the count')
  const before = s.changes()
  s.monitor.answered(x1, 504, 5)
  t.equal(x1.ejectedUntil, s.clock.now() + 1000)
  t.notOk(s.monitor.isUsable(x1))
  t.same(
    s.ofType('node.ejected').map((e) => e.node),
    [x1.name],
  )
  t.ok(s.changes() > before, 'onChange on ejection')
  const [ev] = s.ofType('node.ejected')
  t.match(ev, { pool: 'x', node: x1.name, cause: 'ejected after 3 failures: 504', for_ms: 1000, until: new Date(s.clock.now() + 1000).toISOString() })
  t.ok(s.lines.some(([level, , msg]) => level === 'warn' && msg === 'node ejected'))
  const d = s.monitor.describe(x1)
  t.equal(d.ejected, true)
  t.equal(d.ejected_until, new Date(s.clock.now() + 1000).toISOString())

  s.monitor.attemptFailed(x2, 'connect')
  s.monitor.attemptFailed(x2, 'reset')
  s.monitor.attemptFailed(x2, 'timeout')
  t.ok(x2.ejectedUntil > 0, 'connect errors and resets eject too')
  t.equal(s.ofType('node.ejected')[1].cause, 'ejected after 3 failures: timeout')
  t.notOk('why' in s.ofType('node.ejected')[1], 'no words explained: none named')
})

t.test('an ejection names what the node did, when the last explained failure is of its kind and recent', async (t) => {
  const s = setup({ x: 3 })
  const [x1, x2] = s.nodes.x
  s.monitor.failureExplained(x1, 'connect', 'connect ECONNREFUSED 10.1.0.1:8000')
  for (let i = 0; i < 3; i++) s.monitor.attemptFailed(x1, 'connect')
  t.match(s.ofType('node.ejected')[0], { node: x1.name, cause: 'ejected after 3 failures: connect', why: 'connect ECONNREFUSED 10.1.0.1:8000' })
  // another kind, or words over a minute old: not named
  s.monitor.failureExplained(x2, 'reset', 'read ECONNRESET')
  s.clock.advance(61_000)
  for (let i = 0; i < 3; i++) s.monitor.attemptFailed(x2, 'reset')
  t.notOk('why' in s.ofType('node.ejected')[1], 'stale words are not named')
})

t.test('the last usable node of a pool is never ejected', async (t) => {
  const s = setup({ x: 2 })
  const [x1, x2] = s.nodes.x
  for (let i = 0; i < 3; i++) s.monitor.attemptFailed(x1, 'connect')
  t.ok(x1.ejectedUntil > 0)
  for (let i = 0; i < 20; i++) s.monitor.answered(x2, 502, 1)
  t.equal(x2.ejectedUntil, 0)
  t.ok(s.monitor.isUsable(x2))
  t.equal(s.ofType('node.ejected').length, 1)
  // once x1 is back, x2's next failure takes it out
  await tick(s.clock, 1000, 1000)
  t.ok(s.monitor.isUsable(x1))
  s.monitor.answered(x2, 502, 1)
  t.ok(x2.ejectedUntil > 0)
})

t.test('ejection end brings the node back and calls onChange', async (t) => {
  const s = setup({ x: 2 })
  const x1 = s.nodes.x[0]
  for (let i = 0; i < 3; i++) s.monitor.answered(x1, 503, 1)
  const before = s.changes()
  await tick(s.clock, 999, 999)
  t.notOk(s.monitor.isUsable(x1))
  t.equal(s.ofType('node.returned').length, 0)
  await tick(s.clock, 1, 1)
  t.ok(s.monitor.isUsable(x1))
  t.equal(x1.ejectedUntil, 0)
  t.equal(s.changes(), before + 1)
  t.match(s.ofType('node.returned'), [{ pool: 'x', node: x1.name }])
  t.equal(s.monitor.describe(x1).ejected, false)
})

t.test('repeated ejections double up to 10x and reset after a healthy spell', async (t) => {
  const s = setup({ x: 2 })
  const x1 = s.nodes.x[0]
  const lengths: number[] = []
  for (let i = 0; i < 6; i++) {
    for (let k = 0; k < 3; k++) s.monitor.answered(x1, 502, 1)
    const ev = s.ofType('node.ejected').at(-1)!
    lengths.push(ev.for_ms as number)
    await tick(s.clock, ev.for_ms as number, ev.for_ms as number)
  }
  t.same(lengths, [1000, 2000, 4000, 8000, 10000, 10000])
  await tick(s.clock, 10000, 10000)
  for (let k = 0; k < 3; k++) s.monitor.answered(x1, 502, 1)
  t.equal(s.ofType('node.ejected').at(-1)!.for_ms, 1000)
})

t.test('readiness follows the pools with a share above 0', async (t) => {
  const s = setup({ x: 1, y: 1, health: { active: active() } })
  const [x1] = s.nodes.x
  const [y1] = s.nodes.y
  x1.healthy = true
  y1.healthy = false
  t.same(s.monitor.readiness(0), { ready: true })
  t.same(s.monitor.readiness(50), { ready: true })
  t.same(s.monitor.readiness(100), { ready: false, reason: 'no usable node in pool y' })
  x1.healthy = false
  t.same(s.monitor.readiness(0), { ready: false, reason: 'no usable node in pool x' })
  t.same(s.monitor.readiness(50), { ready: false, reason: 'no usable node in pools x and y' })
  y1.healthy = true
  t.same(s.monitor.readiness(50), { ready: true })
  t.same(s.monitor.readiness(100), { ready: true })
})

t.test('setNodes: added nodes are probed at once, removed ones stop', async (t) => {
  const s = setup({ x: 1, y: 1, health: { active: active({ interval: 1000 }) } })
  s.monitor.start()
  await tick(s.clock, 1000)
  const x1 = s.nodes.x[0]
  const y1 = s.nodes.y[0]
  const x2 = makeNode('http://10.1.0.9:8000', 'x')
  const before = s.changes()
  s.monitor.setNodes({ x: [x1, x2], y: [] })
  t.equal(s.changes(), before + 1, 'onChange on setNodes')
  const mark = s.probed.length
  await tick(s.clock, 1, 1)
  t.same(s.probed.slice(mark), [x2.name], 'x2 probed at once')
  t.equal(x2.healthy, null, 'starts unknown')
  await tick(s.clock, 3000)
  t.notOk(s.probed.slice(mark).includes(y1.name), 'y1 no longer probed')
  t.equal(x2.healthy, true)
  t.equal(x1.healthy, true, 'kept nodes keep their state')
  s.monitor.stop()
  t.equal(s.clock.pending, 0)
})

t.test('configure: switching active checks off marks nodes healthy; new thresholds apply', async (t) => {
  const s = setup({ x: 1, y: 1, health: { active: active({ unhealthy_threshold: 5 }) } })
  const x1 = s.nodes.x[0]
  s.answers.set(x1.name, { ok: false, error: 'connection refused', ms: 1 })
  s.monitor.start()
  await tick(s.clock, 2500)
  t.equal(x1.healthy, null, 'three failures of five')
  s.monitor.configure({ passive: { max_failures: 3, eject_for: 1000 }, active: active({ unhealthy_threshold: 2 }) })
  await tick(s.clock, 1000)
  t.equal(x1.healthy, false)
  t.equal(s.ofType('node.unhealthy')[0].cause, 'probe failed 2/2: connection refused')
  s.monitor.configure({ passive: { max_failures: 3, eject_for: 1000 } })
  t.equal(x1.healthy, true)
  t.equal(s.ofType('node.healthy').at(-1)!.cause, 'active health checks off')
  const n = s.probed.length
  await tick(s.clock, 3000, 500)
  t.equal(s.probed.length, n, 'no probes once off')
  s.monitor.stop()
})

t.test('describe', async (t) => {
  const s = setup({ x: 1, y: 1, health: { active: active() } })
  const x1 = s.nodes.x[0]
  x1.inflight = 3
  t.same(s.monitor.describe(x1), {
    url: 'http://10.1.0.1:8000',
    name: '10.1.0.1:8000',
    healthy: null,
    ejected: false,
    ejected_until: null,
    last_probe: null,
    last_failure: null,
    inflight: 3,
  })
  s.monitor.failureExplained(x1, 'connect', 'connect ECONNREFUSED 10.1.0.1:8000')
  t.match(s.monitor.describe(x1).last_failure, { kind: 'connect', why: 'connect ECONNREFUSED 10.1.0.1:8000', at: new Date(s.clock.now()).toISOString() }, 'the last failure explained, with when')
})

t.test('real server: /status/ready flipping 503 -> 200 with the default probe', async (t) => {
  let ready = false
  const server = http.createServer((req, res) => {
    const ok = req.url === '/status/ready' && ready
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
    res.end(ok ? '{}' : '{"message":"no configuration available"}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const events = new EventLog(systemClock)
  const node = makeNode(`http://127.0.0.1:${port}`, 'y')
  const monitor = new HealthMonitor({
    health: { active: active({ interval: 20, timeout: 500, healthy_threshold: 2, unhealthy_threshold: 2 }), passive: { max_failures: 5, eject_for: 30000 } },
    clock: systemClock,
    events,
    logger: captureLogger().logger,
    onChange: () => undefined,
  })
  t.teardown(() => {
    monitor.stop()
    server.closeAllConnections()
    server.close()
  })
  const waitFor = (type: string): Promise<CutoverEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within 3s`)), 3000)
      const off = events.subscribe((e) => {
        if (e.type === type) {
          clearTimeout(timer)
          off()
          resolve(e)
        }
      })
    })
  monitor.setNodes({ x: [], y: [node] })
  const unhealthy = waitFor('node.unhealthy')
  monitor.start()
  t.equal((await unhealthy).cause, 'probe failed 2/2: status 503')
  t.equal(node.healthy, false)
  t.same(monitor.readiness(100), { ready: false, reason: 'no usable node in pool y' })
  const healthy = waitFor('node.healthy')
  ready = true
  t.equal((await healthy).cause, 'probe passed 2/2')
  t.equal(node.healthy, true)
  t.same(monitor.readiness(100), { ready: true })
  t.match(monitor.describe(node).last_probe, { ok: true, status: 200 })
})

t.test("a node's h2 listener is ejected on its own: the node stays usable; the last h2 listener stays in", async (t) => {
  const s = setup({ x: 3 })
  const [x1, x2, x3] = s.nodes.x
  // x1 and x2 have h2 listeners, x3 none (it cannot take gRPC, so it does not count as the h2 fallback)
  for (const n of [x1, x2]) (n.config as { h2?: unknown }).h2 = { url: `h2c://${n.config.hostname}:9080`, tls: false, hostname: n.config.hostname, port: 9080, authority: `${n.config.hostname}:9080` }
  s.monitor.attemptFailed(x1, 'connect', 'h2')
  s.monitor.attemptFailed(x1, 'connect', 'h2')
  s.monitor.answered(x1, 200, 1, false, 'http1')
  s.monitor.answered(x1, 502, 1, false, 'h2')
  t.equal(x1.h2EjectedUntil, s.clock.now() + 1000, "HTTP/1.1 successes do not reset the h2 listener's count")
  t.equal(x1.ejectedUntil, 0, 'the node is not ejected')
  t.ok(s.monitor.isUsable(x1))
  t.match(s.ofType('node.ejected'), [{ pool: 'x', node: x1.name, listener: 'h2', cause: 'h2 listener ejected after 3 failures: 502', for_ms: 1000 }])
  t.match(s.monitor.describe(x1), { ejected: false, h2_ejected: true, h2_ejected_until: new Date(s.clock.now() + 1000).toISOString() })
  t.notOk('h2_ejected' in s.monitor.describe(x3), 'a node without an h2 address has no h2 fields')
  // x2 has the last h2 listener left in the pool: it stays in
  for (let i = 0; i < 10; i++) s.monitor.attemptFailed(x2, 'reset', 'h2')
  t.equal(x2.h2EjectedUntil, 0)
  // HTTP/1.1 failures count against the node alone
  for (let i = 0; i < 3; i++) s.monitor.attemptFailed(x2, 'connect')
  t.ok(x2.ejectedUntil > 0)
  t.equal(x2.h2EjectedUntil, 0)
  // the h2 ejection ends by itself
  await tick(s.clock, 1000, 1000)
  t.equal(x1.h2EjectedUntil, 0)
  t.match(s.ofType('node.returned'), [{ node: x1.name, listener: 'h2' }, { node: x2.name }])
  t.equal(s.monitor.describe(x1).h2_ejected, false)
})
