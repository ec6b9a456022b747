// Shared test fixtures (no tests here): nodes, tables, a recording sink, upstream servers.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import pino, { type Logger } from 'pino'
import type { Config, NodeConfig, PoolName } from '../../src/config/types.js'
import type { FailureKind, OutcomeSink } from '../../src/outcome/outcome-sink.js'
import { type NodePoolOptions, UpstreamNode } from '../../src/upstream/node.js'
import { CONFIG_DEFAULTS } from '../helpers/fixtures.js'

/** A node on 127.0.0.1:port. */
export function node(pool: PoolName, port: number, weight = 1, timeouts: NodePoolOptions = { connectTimeout: 1000, headersTimeout: 5000 }): UpstreamNode {
  const config: NodeConfig = { url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, name: `127.0.0.1:${port}`, protocol: 'http:', hostname: '127.0.0.1', port, weight }
  return new UpstreamNode(pool, config, timeouts)
}

export const silentLogger = pino({ level: 'silent' })

export function proxyConfig(over: Partial<Config['proxy']> = {}): Config['proxy'] {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    workers: 1,
    connect_timeout: 1000,
    header_timeout: 10000,
    request_timeout: 5000,
    drain_timeout: 1000,
    retries: 1,
    keepalive_timeout: 5000,
    max_connections: 0,
    max_header_size: 16384,
    max_body_size: 0,
    max_inflight: 10000,
    upstream_max_connections: 64,
    upstream_keepalive_timeout: CONFIG_DEFAULTS.proxy.upstream_keepalive_timeout,
    idle_timeout: CONFIG_DEFAULTS.proxy.idle_timeout,
    h2_max_concurrent_streams: CONFIG_DEFAULTS.proxy.h2_max_concurrent_streams,
    proxy_protocol: false,
    ...over,
  }
}

export type SinkCall = ['attemptStarted', string] | ['attemptFailed', string, FailureKind] | ['answered', string, number] | ['attemptEnded', string] | ['finished', PoolName, number]

/** A sink that records every call (ms left out: it varies). */
export class RecordingSink implements OutcomeSink {
  calls: SinkCall[] = []
  attemptStarted(n: UpstreamNode): void {
    this.calls.push(['attemptStarted', n.name])
  }
  attemptFailed(n: UpstreamNode, kind: FailureKind): void {
    this.calls.push(['attemptFailed', n.name, kind])
  }
  answered(n: UpstreamNode, status: number, ms: number): void {
    if (!(ms >= 0)) throw new Error('bad ms')
    this.calls.push(['answered', n.name, status])
  }
  attemptEnded(n: UpstreamNode): void {
    this.calls.push(['attemptEnded', n.name])
  }
  finished(pool: PoolName, status: number, ms: number): void {
    if (!(ms >= 0)) throw new Error('bad ms')
    this.calls.push(['finished', pool, status])
  }
  /** not a call to record: it follows a failure's log line, not each attempt */
  failureExplained(): void {}
  /** resolves once finished was called n times in all */
  async waitFinished(n = 1, timeoutMs = 3000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (this.calls.filter((c) => c[0] === 'finished').length < n) {
      if (Date.now() > until) throw new Error('finished not reported')
      await new Promise((r) => setTimeout(r, 5))
    }
  }
}

/** Start a node:http server on 127.0.0.1:0. */
export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = http.createServer()
  const port = await listen(s)
  await new Promise((r) => s.close(r))
  return port
}

export function close(server: http.Server): Promise<void> {
  server.closeAllConnections?.()
  return new Promise((resolve) => server.close(() => resolve()))
}

import { type Clock, seededRandom, systemClock } from '../../src/clock.js'
import { Forwarder } from '../../src/forwarding/forwarder.js'
import { ProxyServer } from '../../src/forwarding/proxy-server.js'
import { buildRoutingTable, type Router } from '../../src/routing/table.js'

export interface TestProxy {
  port: number
  sink: RecordingSink
  router: Router
  forwarder: Forwarder
  server: ProxyServer
  close(): Promise<void>
}

/** A real proxy on 127.0.0.1:0 in front of the given nodes. */
export async function startProxy(opts: {
  x?: UpstreamNode[]
  y?: UpstreamNode[]
  share?: number
  proxy?: Partial<Config['proxy']>
  split?: Partial<Config['split']>
  allNodes?: boolean
  /** default: the system clock */
  clock?: Clock
  /** default: silent */
  logger?: Logger
}): Promise<TestProxy> {
  const proxy = proxyConfig(opts.proxy)
  const nodes = { x: opts.x ?? [], y: opts.y ?? [] }
  const router: Router = { table: buildRoutingTable(opts.share ?? 0, nodes, () => true, { y: 0, ...opts.split }) }
  const sink = new RecordingSink()
  const forwarder = new Forwarder({
    proxy,
    router,
    sink,
    random: seededRandom(1),
    clock: opts.clock ?? systemClock,
    logger: opts.logger ?? silentLogger,
    https: Boolean(proxy.tls),
    allNodes: opts.allNodes ? () => nodes : undefined,
  })
  const server = new ProxyServer({ proxy, forwarder, logger: silentLogger })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  return {
    port,
    sink,
    router,
    forwarder,
    server,
    async close() {
      server.closeAllConnections()
      await server.close()
      await Promise.all([...nodes.x, ...nodes.y].map((n) => n.dispatcher.destroy()))
    },
  }
}
