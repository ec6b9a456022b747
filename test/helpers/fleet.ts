/**
 * A fleet for the tests: real cutover processes (bin/cutover.js, so `npm run build`
 * first) sharing one etcd prefix, each with its own config file and replica id; and the
 * testbed a fleet test file shares: a real etcd cluster and upstreams x, y and a failing y.
 */

import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { tempDir } from './cutover.js'
import { etcdAvailable, startEtcdCluster, type EtcdCluster } from './etcd.js'
import { api, run, type Running } from './process.js'
import { startUpstream, type TestUpstream } from './upstream.js'
import { waitUntil } from './wait.js'

/** Why the fleet's integration tests cannot run here, or false. */
export const fleetSkip: string | false = !etcdAvailable() || !existsSync(new URL('../../dist/cli.js', import.meta.url)) ? 'needs etcd (Debian: etcd-server) and a build (npm run build)' : false

export interface FleetOptions {
  endpoints: string[]
  prefix: string
  x: string[]
  y: string[]
  /** extra top-level YAML (gates, rollout, ...) */
  extra?: string
  /** lease TTL in seconds (default 2) */
  ttl?: number
}

// biome-ignore-start lint/suspicious/noExplicitAny: API answers of any shape; the tests check what they read
export interface Replica extends Running {
  id: string
  configPath: string
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  state(): Promise<any>
}
// biome-ignore-end lint/suspicious/noExplicitAny: see above

export function fleetYaml(o: FleetOptions, id: string, dir: string): string {
  return `proxy: { listen: 127.0.0.1:0, drain_timeout: 2s }
control: { listen: 127.0.0.1:0, token: "\${TEST_TOKEN}" }
state:
  path: ${join(dir, `${id}.json`)}
  backend: etcd
  replica_id: ${id}
  etcd:
    endpoints: [${o.endpoints.join(', ')}]
    prefix: ${o.prefix}
    lease_ttl: ${o.ttl ?? 2}s
pools:
  x: { nodes: [${o.x.join(', ')}] }
  y: { nodes: [${o.y.join(', ')}] }
log: { level: info }
${o.extra ?? ''}
`
}

/** Start one replica process and wait until it is listening. */
export async function startReplica(o: FleetOptions, id: string, dir = tempDir()): Promise<Replica> {
  const configPath = join(dir, `${id}.yaml`)
  writeFileSync(configPath, fleetYaml(o, id, dir))
  const r = await run(configPath)
  const replica: Replica = Object.assign(r, {
    id,
    configPath,
    api: (method: string, path: string, body?: unknown) => api(r, method, path, body),
    state: async () => (await api(r, 'GET', '/v1/state')).body,
  })
  return replica
}

/** Start n replicas (r1..rn) and wait until each sees all of them and one leader. */
export async function startFleet(o: FleetOptions, n = 3): Promise<Replica[]> {
  const dir = tempDir()
  const replicas = await Promise.all(Array.from({ length: n }, (_, i) => startReplica(o, `r${i + 1}`, dir)))
  await waitUntil(
    'every replica sees the fleet and its leader',
    async () => {
      const states = await Promise.all(replicas.map((r) => r.state()))
      return states.every((s) => s.fleet?.replicas?.length === n && s.fleet.leader !== null && s.fleet.leader === states[0].fleet.leader)
    },
    10_000,
    50,
  )
  return replicas
}

/** SIGTERM every live replica and wait for them to exit. */
export async function stopAll(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map(async (r) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return
      r.child.kill('SIGTERM')
      await r.exited
    }),
  )
}

/** The replica that leads, as the fleet says. */
export async function leaderOf(replicas: Replica[]): Promise<Replica> {
  const s = await replicas[0].state()
  const leader = replicas.find((r) => r.id === s.fleet.leader)
  if (!leader) throw new Error(`no leader among ${replicas.map((r) => r.id).join(', ')}: ${s.fleet.leader}`)
  return leader
}

export interface FleetTestbed {
  cluster: EtcdCluster
  x: TestUpstream
  /** a y that answers */
  yOk: TestUpstream
  /** a y that answers 500 to everything */
  yBad: TestUpstream
  /** fleet options on a fresh etcd prefix, with y as pool y's only node */
  options(y: TestUpstream, extra?: string): FleetOptions
  /** start n replicas (default 3), stopped at the test's end */
  fleet(t: Pick<Test, 'teardown'>, o: FleetOptions, n?: number): Promise<Replica[]>
}

/**
 * The setup a fleet test file shares, started before its first test and stopped after its
 * last: an etcd cluster of `members` and the upstreams. Nothing is started when fleetSkip says why not.
 */
export function fleetTestbed(root: Pick<Test, 'before' | 'teardown'>, members = 3): FleetTestbed {
  let n = 0
  const bed = {
    options: (y: TestUpstream, extra = '') => ({ endpoints: bed.cluster.endpoints, prefix: `/cutover/fleet-${process.pid}-${++n}`, x: [bed.x.url], y: [y.url], extra }),
    fleet: async (t: Pick<Test, 'teardown'>, o: FleetOptions, size = 3) => {
      const replicas = await startFleet(o, size)
      t.teardown(() => stopAll(replicas))
      return replicas
    },
  } as FleetTestbed
  root.before(async () => {
    if (fleetSkip) return
    bed.cluster = await startEtcdCluster(members)
    bed.x = await startUpstream('x')
    bed.yOk = await startUpstream('y')
    bed.yBad = await startUpstream('y-bad', (req, res) => {
      req.resume()
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('y is broken')
    })
  })
  root.teardown(async () => {
    if (fleetSkip) return
    await Promise.all([bed.x?.close(), bed.yOk?.close(), bed.yBad?.close()])
    await bed.cluster?.stop()
  })
  return bed
}

/** GET through a replica's proxy: which upstream answered, and the status. */
export async function through(r: Replica): Promise<{ status: number; upstream: string | null }> {
  const res = await fetch(`${r.proxyUrl}/anything`)
  await res.arrayBuffer()
  return { status: res.status, upstream: res.headers.get('x-upstream') }
}
