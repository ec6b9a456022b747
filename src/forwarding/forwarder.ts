/**
 * The forwarder: what every client request shares — the proxy settings, the routing table,
 * the outcome sink, the in-flight count and the deadline sweeper — and the routing
 * decisions (pool, first node, next node after a failure). The per-connection work is in
 * client-connection.ts, the per-request relay in exchange.ts, upgrades in tunnel.ts.
 */

import type { IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Clock, Random } from '../clock.js'
import type { Config, PoolName } from '../config/types.js'
import { fieldNameIs, fieldValue, type RequestHead } from '../http1/index.js'
import type { OutcomeReport, RefusalReason } from '../outcome/outcome-sink.js'
import { type Failure, firstNode, nextNode } from '../routing/fallback.js'
import { pickPool } from '../routing/pool-pick.js'
import type { Router, RoutingTable } from '../routing/table.js'
import type { ShadowTap } from '../shadow/tap.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { AccessLog } from './access-log.js'
import { UNEXPECTED_PROXY_HEADER } from './answers.js'
import { FailureLog } from './failure-log.js'
import { Sweeper } from './sweeper.js'
import { ThrottledWarning } from './throttled-warning.js'

export interface ForwarderOptions {
  proxy: Config['proxy']
  router: Router
  sink: OutcomeReport
  random: Random
  clock: Clock
  logger: Logger
  /** the listener speaks TLS: X-Forwarded-Proto https */
  https: boolean
  /** a request was shed at proxy.max_inflight (503, no node touched); for cutover_shed_total */
  onShed?: () => void
  /** a request was refused before any node saw it: ambiguous framing, head too large, head too slow */
  onRefused?: (reason: RefusalReason) => void
  /**
   * every configured node, usable or not: a retry whose every usable node has failed tries
   * an ejected or unhealthy one rather than fail the client (Envoy's panic routing, for
   * retries only). Absent: retries stay on usable nodes.
   */
  allNodes?: () => Readonly<Record<PoolName, readonly UpstreamNode[]>>
  /** sampled access log; absent when log.access is off */
  accessLog?: AccessLog
}

/**
 * What stays on one node for as long as it lasts, outside the split: an upgraded connection
 * (WebSocket), a server-sent event stream, a gRPC call whose answer has begun. Each kind
 * reconnects or calls again by design when cut, and lands where the split then sends it.
 */
export interface LongLived {
  readonly kind: LongLivedKind
  /** the node it is held to; null once it ended */
  readonly node: UpstreamNode | null
  /** end it now, both sides; the node is not blamed */
  cut(): void
}

export type LongLivedKind = 'websocket' | 'event-stream' | 'grpc'

/** Takes a plain-TCP client socket that opened with HTTP/2's preface, and the bytes read from it so far. */
export type H2Preface = (socket: Socket, bytes: Buffer) => void

/** what the client got when it went away before any answer (nginx's convention) */
export const CLIENT_CLOSED = 499

const NO_HEADERS: Readonly<Record<string, string | undefined>> = Object.freeze({})

export class Forwarder {
  proxy: Config['proxy']
  readonly router: Router
  readonly sink: OutcomeReport
  readonly random: Random
  readonly clock: Clock
  readonly logger: Logger
  readonly https: boolean
  onShed: (() => void) | undefined
  onRefused: ((reason: RefusalReason) => void) | undefined
  readonly allNodes: (() => Readonly<Record<PoolName, readonly UpstreamNode[]>>) | undefined
  accessLog: AccessLog | undefined
  /** why nodes' attempts failed, at warn, a few lines per node at most */
  readonly failures: FailureLog
  /** connections that open with a PROXY header while proxy.proxy_protocol is off (client-connection.ts) */
  readonly proxyHeaderWhileOff: ThrottledWarning
  /** client requests on their way upstream now (proxy.max_inflight bounds it) */
  inflight = 0
  /** copies of x's requests to y (issue 13, src/shadow/); null when shadow is off */
  shadow: ShadowTap | null = null
  /** the deadlines of every client connection and its request */
  readonly sweeper: Sweeper
  /** where h2c with prior knowledge on the HTTP/1.1 listener goes (data-plane.ts); absent on TLS, where ALPN chooses */
  h2Preface: H2Preface | undefined
  /** upgraded connections, event streams and gRPC answers now open, each held to its node (added and removed by their owners) */
  readonly longLived = new Set<LongLived>()
  /** the few headers pool pick reads, filled per request (pickPool is synchronous) */
  readonly #routingHeaders: Record<string, string | undefined> = {}

  constructor(options: ForwarderOptions) {
    this.proxy = options.proxy
    this.router = options.router
    this.sink = options.sink
    this.random = options.random
    this.clock = options.clock
    this.logger = options.logger
    this.https = options.https
    this.onShed = options.onShed
    this.onRefused = options.onRefused
    this.allNodes = options.allNodes
    this.accessLog = options.accessLog
    this.failures = new FailureLog(options.logger, options.clock, options.sink)
    this.proxyHeaderWhileOff = new ThrottledWarning(options.logger, options.clock, `connection refused: ${UNEXPECTED_PROXY_HEADER}`)
    this.sweeper = new Sweeper(options.clock, tickFor(options.proxy))
  }

  /**
   * Cut what is held to the nodes that must not carry traffic any more (their pool's share
   * fell to 0, or the node is in maint): their clients reconnect and land where the split
   * now sends them. Returns how many were cut, by kind (none: an empty object).
   */
  cutLongLived(to: (node: UpstreamNode) => boolean): Partial<Record<LongLivedKind, number>> {
    const cut: Partial<Record<LongLivedKind, number>> = {}
    for (const held of [...this.longLived]) {
      if (held.node === null || !to(held.node)) continue
      held.cut()
      cut[held.kind] = (cut[held.kind] ?? 0) + 1
    }
    return cut
  }

  /** Apply a reloaded proxy section (timeouts, retries, limits) to requests from now on. */
  configure(proxy: Config['proxy'], accessLog?: AccessLog): void {
    this.proxy = proxy
    this.accessLog = accessLog
    this.sweeper.tick = tickFor(proxy)
  }

  /** x or y for a request (SPEC 4.1). */
  pickPool(head: RequestHead, remoteAddress: string | undefined): PoolName {
    const table = this.router.table
    return pickPool(table, this.#headersFor(table, head) as IncomingHttpHeaders, remoteAddress, this.random)
  }

  /** The first node for a request of pool: a usable one of pool, else of the other pool. */
  firstNode(pool: PoolName): UpstreamNode | undefined {
    return firstNode(this.router.table, pool, this.random)
  }

  /** The node for the next attempt after a failure, or undefined (routing/fallback.ts). */
  nextNode(failure: Failure): UpstreamNode | undefined {
    return nextNode(failure, { table: this.router.table, all: this.allNodes?.(), retries: this.proxy.retries, random: this.random })
  }

  /** A request refused before any node saw it. */
  refused(reason: RefusalReason): void {
    if (this.onRefused !== undefined) this.onRefused(reason)
  }

  /**
   * The headers pool pick looks at (override, sticky header, cookie), lower-cased and
   * joined as Node joins repeats; nothing is read when the table needs none.
   */
  #headersFor(table: RoutingTable, head: RequestHead): Readonly<Record<string, string | undefined>> {
    const override = table.overrideHeader
    const sticky = table.sticky === undefined ? undefined : table.stickyHeader
    const cookie = table.sticky?.cookie !== undefined
    if (override === undefined && sticky === undefined && !cookie) return NO_HEADERS
    const out = this.#routingHeaders
    if (override !== undefined) out[override] = undefined
    if (sticky !== undefined) out[sticky] = undefined
    out.cookie = undefined
    const text = head.text
    const starts = head.lineStarts
    if (text !== undefined && starts !== undefined) {
      // names compared in the head's text: only the values wanted become strings
      for (let k = 0; k + 1 < starts.length; k++) {
        let key: string | undefined
        if (override !== undefined && fieldNameIs(text, starts, k, override)) key = override
        else if (sticky !== undefined && fieldNameIs(text, starts, k, sticky)) key = sticky
        else if (cookie && fieldNameIs(text, starts, k, 'cookie')) key = 'cookie'
        if (key !== undefined) join(out, key, fieldValue(text, starts, k))
      }
      return out
    }
    const raw = head.headers
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]
      let key: string | undefined
      if (override !== undefined && sameName(name, override)) key = override
      else if (sticky !== undefined && sameName(name, sticky)) key = sticky
      else if (cookie && sameName(name, 'cookie')) key = 'cookie'
      if (key !== undefined) join(out, key, raw[i + 1])
    }
    return out
  }
}

/** Add a value of the header key to out, after any before it, as Node joins repeats. */
function join(out: Record<string, string | undefined>, key: string, value: string): void {
  const previous = out[key]
  out[key] = previous === undefined ? value : previous + (key === 'cookie' ? '; ' : ', ') + value
}

/** name equals the lower-case lower, ignoring ASCII case. */
function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i)
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false
  }
  return true
}

function tickFor(proxy: Config['proxy']): number {
  return Sweeper.tickFor(proxy.header_timeout, proxy.keepalive_timeout, proxy.request_timeout, proxy.connect_timeout, proxy.idle_timeout)
}
