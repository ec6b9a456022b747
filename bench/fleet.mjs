// The fleet's figures (issue 11): three cutover replicas sharing their state through a
// 3-member etcd on loopback ports (Debian's etcd-server), in this process from ../dist
// (build with `npx tsc -p .`).
//  1. propagation: a split written through one replica (taking turns), until each other
//     replica applies it (its StateController says so), p50/p99 over --changes writes;
//     goal p99 < 200 ms;
//  2. y failing: a paced client sends --rate req/s spread over the three proxies; after a
//     healthy warm-up y answers 500 to a share of requests; the time until every replica
//     routes to x (y 0), for each --rates share.
// Gates: window 60s, min_requests 100, max_error_rate 0.01.
//
//   node bench/fleet.mjs [--changes 200] [--rate 600] [--rates 1,0.1] [--warmup 3]
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as netServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { Pool } from 'undici'
import { startCutover } from '../dist/app.js'
import { parseConfig } from '../dist/config/load.js'

const { values } = parseArgs({
  options: {
    changes: { type: 'string', default: '200' },
    rate: { type: 'string', default: '600' },
    rates: { type: 'string', default: '1,0.1' },
    warmup: { type: 'string', default: '3' },
  },
})

if (spawnSync('etcd', ['--version']).status !== 0) {
  console.error('bench/fleet: etcd is not installed (Debian: apt-get install etcd-server)')
  process.exit(1)
}

const freePort = () =>
  new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function startEtcd(dir) {
  const specs = []
  for (let i = 1; i <= 3; i++) specs.push({ name: `m${i}`, client: await freePort(), peer: await freePort() })
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',')
  const children = specs.map((s) =>
    spawn(
      'etcd',
      [
        '--name',
        s.name,
        '--data-dir',
        join(dir, s.name),
        '--listen-client-urls',
        `http://127.0.0.1:${s.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${s.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${s.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${s.peer}`,
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        'new',
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        '--logger',
        'zap',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  )
  const endpoints = specs.map((s) => `http://127.0.0.1:${s.client}`)
  for (;;) {
    const ok = await Promise.all(
      endpoints.map((e) =>
        fetch(`${e}/health`)
          .then((r) => r.json())
          .then(
            (b) => b.health === 'true',
            () => false,
          ),
      ),
    )
    if (ok.every(Boolean)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    endpoints,
    stop: () => {
      for (const c of children) c.kill('SIGKILL')
    },
  }
}

async function upstream(name, failShare) {
  const server = createServer((req, res) => {
    req.resume()
    const fail = Math.random() < failShare()
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain', 'x-upstream': name })
    res.end(fail ? 'broken' : 'ok')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() }
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-fleet-'))
const etcd = await startEtcd(dir)
let yFail = 0
const x = await upstream('x', () => 0)
const y = await upstream('y', () => yFail)
const logger = pino({ level: 'silent' })

const replicas = []
for (const id of ['r1', 'r2', 'r3']) {
  const config = parseConfig(
    `proxy: { listen: 127.0.0.1:0 }
control: { listen: 127.0.0.1:0, token: bench-token-0123456789 }
state:
  path: ${join(dir, `${id}.json`)}
  backend: etcd
  replica_id: ${id}
  etcd: { endpoints: [${etcd.endpoints.join(', ')}], prefix: /cutover/bench-${process.pid}, lease_ttl: 2s }
pools:
  x: { nodes: [${x.url}] }
  y: { nodes: [${y.url}] }
gates: { window: 60s, min_requests: 100, max_error_rate: 0.01 }
log: { level: silent }
`,
    { source: 'bench' },
  )
  replicas.push({ id, cutover: await startCutover(config, { logger }) })
}

// 1. propagation
const changes = Number(values.changes)
const delays = []
for (let i = 0; i < changes; i++) {
  const writer = replicas[i % 3]
  const target = (i % 99) + 1
  const others = replicas.filter((r) => r !== writer)
  const t0 = performance.now()
  const applied = others.map(
    (r) =>
      new Promise((resolve) => {
        const off = r.cutover.state.onChange((next) => {
          if (next.y === target) {
            off()
            resolve(performance.now() - t0)
          }
        })
      }),
  )
  await writer.cutover.state.setSplit(target, 'api')
  delays.push(...(await Promise.all(applied)))
}
delays.sort((a, b) => a - b)
console.log(`propagation: ${changes} writes, ${delays.length} applications on the other replicas`)
console.log(`  write -> routing on another replica: p50 ${quantile(delays, 0.5).toFixed(1)} ms, p99 ${quantile(delays, 0.99).toFixed(1)} ms, max ${delays.at(-1).toFixed(1)} ms (goal p99 < 200 ms)`)

// 2. y failing -> every replica routing to x
const pools = replicas.map((r) => new Pool(`http://127.0.0.1:${r.cutover.proxyAddress.port}`, { connections: 16 }))
let sending = true
let sent = 0
const rate = Number(values.rate)
const pace = (async () => {
  const start = performance.now()
  while (sending) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate)
    while (sent < due) {
      const pool = pools[sent++ % 3]
      pool.request({ path: '/', method: 'GET' }).then(
        (r) => r.body.resume(),
        () => undefined,
      )
    }
    await new Promise((r) => setTimeout(r, 5))
  }
})()

for (const share of values.rates.split(',').map(Number)) {
  yFail = 0
  const s = replicas[0].cutover.state
  if (s.current.locked) await s.unlock('api')
  await s.setSplit(50, 'api')
  await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000))
  const t0 = performance.now()
  yFail = share
  const times = await Promise.all(
    replicas.map(
      (r) =>
        new Promise((resolve) => {
          const check = (st) => {
            if (st.y === 0) {
              off()
              resolve(performance.now() - t0)
            }
          }
          const off = r.cutover.state.onChange(check)
        }),
    ),
  )
  const who = String(replicas[0].cutover.state.current.lock_reason).slice(0, 90)
  console.log(`y failing ${share * 100}% at ${rate} req/s over 3 replicas: every replica routes to x after ${Math.max(...times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(' / ')}); ${who}`)
}
sending = false
await pace
await Promise.all(pools.map((p) => p.close()))
for (const r of replicas) await r.cutover.close()
x.close()
y.close()
etcd.stop()
rmSync(dir, { recursive: true, force: true })
