import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { FakeClock, systemClock } from '../../src/clock.js'
import type { NodeConfig, PoolName } from '../../src/config/types.js'
import type { ProbeResult } from '../../src/health/probe-state.js'
import { httpProbe, Prober, type ProbeFn } from '../../src/health/prober.js'
import { UpstreamNode } from '../../src/upstream/node.js'
import { activeHealth as active } from '../helpers/fixtures.js'

const nodes: UpstreamNode[] = []
t.teardown(async () => {
  await Promise.all(nodes.map((n) => n.dispatcher.close()))
})

function makeNode(url: string, pool: PoolName = 'x'): UpstreamNode {
  const u = new URL(url)
  const config: NodeConfig = {
    url,
    origin: u.origin,
    name: u.host,
    protocol: u.protocol as 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    weight: 1,
  }
  const node = new UpstreamNode(pool, config, { connectTimeout: 1000, headersTimeout: 1000 })
  nodes.push(node)
  return node
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Advance the fake clock in steps, letting settled probes run their continuations. */
async function tick(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done))
    await flush()
  }
}

interface Call {
  node: UpstreamNode
  at: number
  signal: AbortSignal
  resolve: (r: ProbeResult) => void
}

/** A probe whose answers the test controls; counts how many run at once per node. */
function controlled(clock: FakeClock) {
  const calls: Call[] = []
  const running = new Map<UpstreamNode, number>()
  let maxOverlap = 0
  const probe: ProbeFn = (node, _config, signal) =>
    new Promise<ProbeResult>((resolve) => {
      const n = (running.get(node) ?? 0) + 1
      running.set(node, n)
      if (n > maxOverlap) maxOverlap = n
      const done = (r: ProbeResult) => {
        running.set(node, (running.get(node) ?? 1) - 1)
        resolve(r)
      }
      signal.addEventListener('abort', () => running.set(node, (running.get(node) ?? 1) - 1), { once: true })
      calls.push({ node, at: clock.now(), signal, resolve: done })
    })
  return { probe, calls, maxOverlap: () => maxOverlap }
}

t.test('first probes are spread over the interval', async (t) => {
  const clock = new FakeClock()
  const t0 = clock.now()
  const seen: Array<[string, number]> = []
  const probe: ProbeFn = async (node) => {
    seen.push([node.name, clock.now() - t0])
    return { ok: true, status: 200, ms: 1 }
  }
  const ns = [1, 2, 3, 4].map((i) => makeNode(`http://10.0.0.${i}:8000`))
  const prober = new Prober({ clock, probe, onResult: () => undefined })
  prober.setConfig(active({ interval: 1000 }))
  prober.setNodes(ns)
  prober.start()
  await tick(clock, 999, 1)
  t.same(seen, [
    ['10.0.0.1:8000', 0],
    ['10.0.0.2:8000', 250],
    ['10.0.0.3:8000', 500],
    ['10.0.0.4:8000', 750],
  ])
  await tick(clock, 1000, 1)
  t.same(
    seen.slice(4).map((s) => s[1]),
    [1000, 1250, 1500, 1750],
    'then every interval',
  )
  prober.stop()
  t.equal(clock.pending, 0, 'stop leaves no timer')
})

t.test('a slow probe is not overtaken: the next starts when it completes', async (t) => {
  const clock = new FakeClock()
  const t0 = clock.now()
  const c = controlled(clock)
  const results: ProbeResult[] = []
  const node = makeNode('http://10.0.1.1:8000')
  const prober = new Prober({ clock, probe: c.probe, onResult: (_n, r) => results.push(r) })
  prober.setConfig(active({ interval: 1000, timeout: 5000 }))
  prober.setNodes([node])
  prober.start()
  await tick(clock, 2900)
  t.equal(c.calls.length, 1, 'still the first probe after three intervals')
  t.ok(prober.isRunning(node))
  c.calls[0].resolve({ ok: true, status: 200, ms: 2900 })
  await flush()
  t.equal(results.length, 1)
  await tick(clock, 10)
  t.equal(c.calls.length, 2)
  t.equal(c.calls[1].at - t0, 2900, 'overdue: starts right after the slow one')
  c.calls[1].resolve({ ok: true, status: 200, ms: 1 })
  await tick(clock, 980)
  t.equal(c.calls.length, 2, 'interval counted from the start of the previous probe')
  await tick(clock, 20)
  t.equal(c.calls.length, 3)
  t.equal(c.calls[2].at - t0, 3900)
  t.equal(c.maxOverlap(), 1, 'never two probes of one node at once')
  prober.stop()
})

t.test('a hanging probe times out and does not delay other nodes', async (t) => {
  const clock = new FakeClock()
  const t0 = clock.now()
  const calls: Array<[string, number]> = []
  const signals: AbortSignal[] = []
  const a = makeNode('http://10.0.2.1:8000')
  const b = makeNode('http://10.0.2.2:8000')
  const probe: ProbeFn = (node, _config, signal) => {
    calls.push([node.name, clock.now() - t0])
    if (node === a) {
      signals.push(signal)
      return new Promise(() => undefined) // never settles, ignores the signal
    }
    return Promise.resolve({ ok: true, status: 200, ms: 1 })
  }
  const results: Array<[string, ProbeResult, number]> = []
  const prober = new Prober({ clock, probe, onResult: (n, r) => results.push([n.name, r, clock.now() - t0]) })
  prober.setConfig(active({ interval: 1000, timeout: 300 }))
  prober.setNodes([a, b])
  prober.start()
  await tick(clock, 2000)
  t.same(
    calls.filter((c) => c[0] === b.name).map((c) => c[1]),
    [500, 1500],
    'b probed on its own schedule',
  )
  t.same(
    calls.filter((c) => c[0] === a.name).map((c) => c[1]),
    [0, 1000, 2000],
    'a probed again every interval after timing out',
  )
  const aResults = results.filter((r) => r[0] === a.name)
  t.equal(aResults.length, 2)
  t.same(aResults[0][1], { ok: false, error: 'timeout after 300ms', ms: 300 })
  t.equal(aResults[0][2], 300, 'reported when the timeout passes')
  t.ok(signals[0].aborted, 'the timed out probe was told to stop')
  prober.stop()
  t.ok(signals[2].aborted, 'stop aborts the running probe')
})

t.test('added nodes are probed at once, removed ones no more', async (t) => {
  const clock = new FakeClock()
  const c = controlled(clock)
  const a = makeNode('http://10.0.3.1:8000')
  const b = makeNode('http://10.0.3.2:8000')
  const results: string[] = []
  const prober = new Prober({ clock, probe: c.probe, onResult: (n) => results.push(n.name) })
  prober.setConfig(active({ interval: 1000, timeout: 5000 }))
  prober.setNodes([a])
  prober.start()
  await tick(clock, 100)
  t.equal(c.calls.length, 1)
  prober.setNodes([a, b])
  await tick(clock, 1)
  t.equal(c.calls.length, 2)
  t.equal(c.calls[1].node, b, 'b probed at once')
  prober.setNodes([b])
  t.ok(c.calls[0].signal.aborted, "a's running probe aborted")
  c.calls[0].resolve({ ok: true, ms: 1 })
  c.calls[1].resolve({ ok: true, ms: 1 })
  await tick(clock, 3000, 50)
  t.notOk(
    c.calls.slice(2).some((call) => call.node === a),
    'a not probed after removal',
  )
  t.ok(
    c.calls.slice(2).some((call) => call.node === b),
    'b still probed',
  )
  t.notOk(results.includes(a.name), "a's late result is dropped")
  prober.stop()
})

t.test('no active config: nothing is probed; setting one starts, clearing it stops', async (t) => {
  const clock = new FakeClock()
  let n = 0
  const probe: ProbeFn = async () => {
    n++
    return { ok: true, ms: 1 }
  }
  const prober = new Prober({ clock, probe, onResult: () => undefined })
  prober.setNodes([makeNode('http://10.0.4.1:8000')])
  prober.start()
  await tick(clock, 3000, 100)
  t.equal(n, 0)
  prober.setConfig(active({ interval: 1000 }))
  await tick(clock, 2500, 100)
  t.equal(n, 3, 'at 0, 1000, 2000')
  prober.setConfig(undefined)
  await tick(clock, 3000, 100)
  t.equal(n, 3)
  t.equal(clock.pending, 0)
})

t.test('a throwing probe counts as a failure', async (t) => {
  const clock = new FakeClock()
  const results: ProbeResult[] = []
  const prober = new Prober({
    clock,
    probe: async () => {
      throw Object.assign(new Error('x'), { code: 'ECONNREFUSED' })
    },
    onResult: (_n, r) => results.push(r),
  })
  prober.setConfig(active())
  prober.setNodes([makeNode('http://10.0.5.1:8000')])
  prober.start()
  await tick(clock, 10)
  t.equal(results[0].ok, false)
  t.equal(results[0].error, 'connection refused')
  prober.stop()
})

t.test('httpProbe against real sockets', async (t) => {
  let status = 200
  let hang = false
  const paths: string[] = []
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '')
    if (hang) return // never answers
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end('{"message":"x"}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  const node = makeNode(`http://127.0.0.1:${port}`)
  const cfg = active({ timeout: 200 })

  let r = await httpProbe(systemClock)(node, cfg, new AbortController().signal)
  t.equal(r.ok, true)
  t.equal(r.status, 200)
  t.type(r.ms, 'number')
  t.equal(paths[0], '/status/ready')

  status = 503
  r = await httpProbe(systemClock)(node, cfg, new AbortController().signal)
  t.match(r, { ok: false, status: 503, error: 'status 503' })

  hang = true
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), 50)
  r = await httpProbe(systemClock)(node, cfg, ac.signal)
  clearTimeout(timer)
  t.match(r, { ok: false, error: 'timeout after 200ms' })

  // a port nobody listens on: bind one, then close it
  const closed = http.createServer()
  await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res))
  const deadPort = (closed.address() as AddressInfo).port
  await new Promise((res) => closed.close(res))
  r = await httpProbe(systemClock)(node, active({ port: deadPort }), new AbortController().signal)
  t.match(r, { ok: false, error: 'connection refused' })
})
