/**
 * A real etcd cluster for the fleet tests: N members on loopback ports in a temp dir,
 * started with short heartbeats so elections take well under a second, stopped (and the
 * dir removed) by stop(). Members can be killed and started again on the same data dir.
 * Needs the `etcd` binary (Debian's etcd-server); `etcdAvailable()` says whether it is here.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitUntil } from './wait.js'

export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd'

/** Whether an etcd binary can be run here. */
export function etcdAvailable(): boolean {
  const r = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' })
  return r.status === 0
}

/** A free loopback port (bound then released; etcd binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0))
    })
  })
}

export interface EtcdMember {
  readonly name: string
  readonly clientUrl: string
  readonly running: boolean
  /** SIGKILL: no goodbye to its peers */
  kill(): Promise<void>
  /** start again on its data dir (a member killed or stopped before) */
  start(): Promise<void>
  /** SIGKILL, remove its data dir: it starts again empty, at revision 1 (one member only: a lone new cluster) */
  wipe(): Promise<void>
}

export interface EtcdCluster {
  readonly endpoints: string[]
  readonly members: EtcdMember[]
  /** kill every member (the store is gone for clients) */
  killAll(): Promise<void>
  /** start every stopped member and wait for the cluster to be healthy */
  startAll(): Promise<void>
  /** stop everything and remove the data dirs */
  stop(): Promise<void>
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) })
    const body = (await res.json()) as { health?: string }
    return body.health === 'true'
  } catch {
    return false
  }
}

/** Start an N-member cluster (default 3) and resolve once every member answers healthy; a port taken meanwhile means new ports. */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size)
    } catch (err) {
      if (attempt >= 3) throw err
    }
  }
}

async function startOnce(size: number): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-etcd-'))
  const specs: Array<{ name: string; client: number; peer: number }> = []
  for (let i = 0; i < size; i++) specs.push({ name: `m${i + 1}`, client: await freePort(), peer: await freePort() })
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',')
  const token = `cutover-test-${process.pid}-${Date.now()}`

  const members = specs.map((s) => {
    const clientUrl = `http://127.0.0.1:${s.client}`
    let child: ChildProcess | null = null
    let exited: Promise<void> = Promise.resolve()
    const member: EtcdMember = {
      name: s.name,
      clientUrl,
      get running() {
        return child !== null
      },
      async kill() {
        const c = child
        if (c === null) return
        c.kill('SIGKILL')
        await exited
      },
      async wipe() {
        await member.kill()
        rmSync(join(dir, s.name), { recursive: true, force: true })
      },
      async start() {
        if (child !== null) return
        const c = spawn(
          ETCD_BIN,
          [
            '--name',
            s.name,
            '--data-dir',
            join(dir, s.name),
            '--listen-client-urls',
            clientUrl,
            '--advertise-client-urls',
            clientUrl,
            '--listen-peer-urls',
            `http://127.0.0.1:${s.peer}`,
            '--initial-advertise-peer-urls',
            `http://127.0.0.1:${s.peer}`,
            '--initial-cluster',
            initialCluster,
            '--initial-cluster-state',
            'new',
            '--initial-cluster-token',
            token,
            '--heartbeat-interval',
            '50',
            '--election-timeout',
            '500',
            '--logger',
            'zap',
            '--log-level',
            'error',
            '--log-outputs',
            'stderr',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        )
        let stderr = ''
        c.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
        child = c
        exited = new Promise((resolve) =>
          c.once('exit', () => {
            if (child === c) child = null
            resolve()
          }),
        )
        void stderr
      },
    }
    return member
  })

  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.clientUrl),
    members,
    async killAll() {
      await Promise.all(members.map((m) => m.kill()))
    },
    async startAll() {
      for (const m of members) await m.start()
      // a loaded machine (the whole suite on 2 cores) can take a while to elect
      await waitUntil(
        'etcd cluster healthy',
        async () => {
          if (members.some((m) => !m.running))
            throw new Error(
              `an etcd member exited at start (port taken?): ${members
                .filter((m) => !m.running)
                .map((m) => m.name)
                .join(', ')}`,
            )
          return (await Promise.all(members.map((m) => healthy(m.clientUrl)))).every(Boolean)
        },
        60_000,
        50,
      )
    },
    async stop() {
      await cluster.killAll()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await cluster.startAll()
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}

/** A TCP relay to one etcd member whose answers can be held back: hold() buffers them, release() sends them on in order. */
export interface HoldingRelay {
  /** http://127.0.0.1:port, an endpoint to give a replica */
  readonly url: string
  hold(): void
  release(): void
  /** A partition: every connection through the relay is cut, and new ones too, until heal(). */
  cut(): void
  heal(): void
  /** Resolves when bytes containing `text` pass towards etcd after this call (e.g. a key a write names). */
  sent(text: string): Promise<void>
  close(): Promise<void>
}

/** Relay to target (host:port or a URL): every connection to it, both ways, with etcd's answers held on demand. */
export async function startHoldingRelay(target: string): Promise<HoldingRelay> {
  const to = new URL(target.includes('://') ? target : `http://${target}`)
  let holding = false
  let cut = false
  const held: Array<() => void> = []
  const watchers: Array<{ text: Buffer; resolve: () => void }> = []
  const sockets = new Set<import('node:net').Socket>()
  const server = createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = connect(Number(to.port), to.hostname)
    sockets.add(client).add(upstream)
    client.on('data', (chunk: Buffer) => {
      for (let i = watchers.length - 1; i >= 0; i--) {
        if (chunk.includes(watchers[i].text)) watchers.splice(i, 1)[0].resolve()
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (holding) held.push(() => client.write(chunk))
      else client.write(chunk)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  const port = typeof a === 'object' && a ? a.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    hold: () => {
      holding = true
    },
    release: () => {
      holding = false
      for (const send of held.splice(0)) send()
    },
    cut: () => {
      cut = true
      for (const s of sockets) s.destroy()
    },
    heal: () => {
      cut = false
    },
    sent: (text) => new Promise((resolve) => watchers.push({ text: Buffer.from(text), resolve })),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
