/**
 * The data plane: the proxy listener, the forwarder and the routing table it reads. It
 * decides nothing on its own: the split and node usability come from the control plane,
 * in this process or (with workers) over IPC, and every outcome goes to the sink.
 */

import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { Clock, Random } from './clock.js'
import type { Config, HostPort } from './config/types.js'
import { AccessLog } from './forwarding/access-log.js'
import { Forwarder } from './forwarding/forwarder.js'
import { ProxyServer } from './forwarding/proxy-server.js'
import type { H2Listener } from './h2/listener.js'
import type { OutcomeReport, RefusalReason } from './outcome/outcome-sink.js'
import type { ShadowTap } from './shadow/tap.js'
import { buildRoutingTable, type Router, type WeightOf } from './routing/table.js'
import type { UpstreamNode } from './upstream/node.js'
import type { Reconciled, Upstreams } from './upstream/upstreams.js'

export interface DataPlaneOptions {
  upstreams: Upstreams
  sink: OutcomeReport
  /** whether a node may take new requests; read only when the table is rebuilt */
  isUsable: (node: UpstreamNode) => boolean
  /** a node's weight for routing (an operator's runtime weight); default its config weight */
  weightOf?: WeightOf
  /** issue 14: a node an operator put in maint takes no traffic at all, its WebSocket tunnels included; read when the table is rebuilt */
  inMaint?: (node: UpstreamNode) => boolean
  /** the share of y at start */
  y: number
  random: Random
  clock: Clock
  logger: Logger
  /** a request was answered 503 at proxy.max_inflight without touching a node */
  onShed?: () => void
  /** a client request was refused before reaching a node (framing, head size, header timeout) */
  onRefused?: (reason: RefusalReason) => void
}

export class DataPlane {
  readonly upstreams: Upstreams
  readonly router: Router
  readonly #forwarder: Forwarder
  readonly #server: ProxyServer
  /**
   * HTTP/2 for clients: ALPN h2 on proxy.tls, and proxy.h2c_listen (issue 12). Built in
   * listen(), which loads it (and node:http2, ~2 MiB of RSS) only when configured (issue 10).
   */
  #h2: H2Listener | undefined
  readonly #wantsH2: boolean
  readonly #isUsable: (node: UpstreamNode) => boolean
  readonly #weightOf: WeightOf | undefined
  readonly #inMaint: ((node: UpstreamNode) => boolean) | undefined
  readonly #logger: Logger
  readonly #random: Random
  #config: Config
  #y: number
  /** drain() began: nothing new is taken */
  #draining = false

  constructor(config: Config, options: DataPlaneOptions) {
    this.#config = config
    this.#y = options.y
    this.#isUsable = options.isUsable
    this.#weightOf = options.weightOf
    this.#inMaint = options.inMaint
    this.#logger = options.logger
    this.#random = options.random
    this.upstreams = options.upstreams
    this.router = { table: this.#table() }
    this.#forwarder = new Forwarder({
      proxy: config.proxy,
      router: this.router,
      sink: options.sink,
      random: options.random,
      clock: options.clock,
      logger: options.logger,
      https: Boolean(config.proxy.tls),
      onShed: options.onShed,
      onRefused: options.onRefused,
      // the last resort of a retry when every usable node already failed this request
      allNodes: () => this.upstreams.nodes,
      accessLog: this.#accessLog(config),
    })
    this.#wantsH2 = Boolean(config.proxy.tls || config.proxy.h2c_listen)
    // the listener accepts nothing before listen() has built the h2 one
    const h2 = config.proxy.tls ? (socket: TLSSocket) => this.#h2!.acceptTls(socket) : undefined
    this.#server = new ProxyServer({ proxy: config.proxy, forwarder: this.#forwarder, logger: options.logger, h2 })
    // plain TCP: a client that opens with HTTP/2's preface (h2c with prior knowledge) is
    // served HTTP/2 on the same port, as nginx's `http2 on` does
    if (!config.proxy.tls) this.#forwarder.h2Preface = (socket, bytes) => void this.#prefaced(socket, bytes)
  }

  /** The h2 listener, built (and node:http2 loaded) the first time anything needs it. */
  async #h2Listener(): Promise<H2Listener> {
    if (this.#h2 === undefined) {
      const { H2Listener } = await import('./h2/listener.js')
      this.#h2 ??= new H2Listener({ config: this.#config, forwarder: this.#forwarder, logger: this.#logger })
    }
    return this.#h2
  }

  async #prefaced(socket: Socket, bytes: Buffer): Promise<void> {
    const h2 = await this.#h2Listener()
    if (socket.destroyed) return
    if (this.#draining) socket.destroy()
    else h2.acceptPrefaced(socket, bytes)
  }

  /**
   * Rebuild the routing table, with a new share of y when given. Never per request.
   * Requests follow the split one by one; a WebSocket, a server-sent event stream or a
   * gRPC stream would stay on its node for hours, so here they are cut to a pool whose
   * share falls to 0 (a rollback to x, or y at 100), to nodes in maint and to nodes a
   * reload removed.
   */
  route(y: number = this.#y): void {
    const before = this.#y
    this.#y = y
    this.router.table = this.#table()
    const emptied = before > 0 && y === 0 ? 'y' : before < 100 && y === 100 ? 'x' : null
    const inMaint = this.#inMaint
    const leaving = (node: UpstreamNode) => node.pool === emptied || node.removed || inMaint?.(node) === true
    // requests still in line for a connection of such a node have gone nowhere: routed again
    for (const node of [...this.upstreams.nodes.x, ...this.upstreams.nodes.y]) if (leaving(node)) this.#moveWaiting(node)
    const cut = this.#forwarder.cutLongLived(leaving)
    if (Object.keys(cut).length > 0) {
      this.#logger.info(
        { emptied, cut },
        'WebSockets, event streams and gRPC answers cut (their pool lost its share, or their node is in maint or was removed): their clients reconnect through the split',
      )
    }
  }

  /** Copy x's requests to y through tap (issue 13), or stop copying (null). */
  shadow(tap: ShadowTap | null): void {
    this.#forwarder.shadow = tap
  }

  async listen(): Promise<HostPort> {
    if (this.#wantsH2) await this.#h2Listener()
    const address = await this.#server.listen(this.#config.proxy.listen)
    const h2c = this.#config.proxy.h2c_listen
    if (h2c !== undefined && this.#h2 !== undefined) await this.#h2.listen(h2c)
    return address
  }

  /** Where proxy.h2c_listen is bound, when it is set. */
  h2cAddress(): HostPort | undefined {
    return this.#h2?.address()
  }

  /**
   * Apply a reloaded config: nodes, timeouts, sticky rule, and the files of `proxy.tls`.
   * Other listener changes need a restart.
   */
  reload(config: Config): Reconciled {
    this.#config = config
    if (config.proxy.tls) {
      try {
        this.#server.reloadTls(config.proxy.tls)
      } catch (err) {
        this.#logger.error({ err: (err as Error).message }, 'proxy TLS not reloaded: the running certificate stays')
      }
    }
    const changes = this.upstreams.reconcile(config)
    this.#forwarder.configure(config.proxy, this.#accessLog(config))
    this.route()
    for (const node of changes.removed) this.#moveWaiting(node)
    // after the move: this closes the removed nodes' h2 sessions and agents
    this.#h2?.configure(config)
    return changes
  }

  /** The requests (HTTP/1.1 and h2 clients') in line for a connection of node go elsewhere. */
  #moveWaiting(node: UpstreamNode): void {
    node.dispatcher.moveWaiters()
    this.#h2?.nodes.moveQueued(node)
  }

  /**
   * Stop accepting, close idle keep-alive connections at once, answer in-flight requests
   * with `connection: close` for up to drain_timeout, then cut what is left. Resolves with
   * how it ended.
   */
  async drain(): Promise<'drained' | 'timeout'> {
    this.#draining = true
    const drained = Promise.all([this.#server.close(), this.#h2?.close()])
    let timer: ReturnType<typeof setTimeout> | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#config.proxy.drain_timeout)
    })
    const result = await Promise.race([drained.then(() => 'drained' as const), timedOut])
    clearTimeout(timer)
    if (result === 'timeout') {
      this.#logger.warn({ drain_timeout_ms: this.#config.proxy.drain_timeout }, 'drain timeout: closing the connections still open')
      this.#server.closeAllConnections()
      this.#h2?.closeAll()
      await drained
    }
    await this.upstreams.close(result === 'timeout')
    return result
  }

  #accessLog(config: Config): AccessLog | undefined {
    return config.log.access ? new AccessLog(this.#logger, config.log.access_sample, this.#random) : undefined
  }

  #table() {
    return buildRoutingTable(this.#y, this.upstreams.nodes, this.#isUsable, this.#config.split, this.#weightOf)
  }
}
