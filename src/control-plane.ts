/**
 * The control plane: everything that decides rather than forwards. The live state and its
 * file, the audit log, node health, the gates, the rollout runner, the metrics registry
 * and the control listener. One per cutover, whatever the number of workers.
 */

import type { FastifyInstance } from 'fastify'
import { Analysis } from './analysis/analysis.js'
import type { Logger } from 'pino'
import type { Clock } from './clock.js'
import { POOLS, type Config, type HostPort, type PoolName } from './config/types.js'
import { TrafficHistory } from './console/history.js'
import { xShare } from './config/percent.js'
import { buildControlServer } from './control/server.js'
import type { StateView } from './control/api-types.js'
import { Gatekeeper } from './gates/gatekeeper.js'
import { grpcMask } from './h2/grpc-status.js'
import { HealthMonitor } from './health/monitor.js'
import { WebhookNotifier } from './notify/webhook.js'
import { fanOut } from './outcome/fan-out.js'
import type { OutcomeReport } from './outcome/outcome-sink.js'
import { Metrics, type MetricsSources } from './metrics/metrics.js'
import { RolloutRunner } from './rollout/runner.js'
import { StateController } from './state/controller.js'
import { EventLog } from './state/events.js'
import { FileBackend, type StateBackend } from './state/backend.js'
import { AuditFile, auditPathFor } from './state/audit-file.js'
import { adminStateOf, effectiveWeight, nodeAdminOf } from './state/node-admin.js'
import type { NodeChangeRequest } from './state/node-admin.js'
import { CutoverError } from './errors.js'
import { reloadTls } from './tls-files.js'
import type { Server as HttpsServer } from 'node:https'
import type { LiveState } from './state/types.js'
import type { UpstreamNode } from './upstream/node.js'
import type { Reconciled, Upstreams } from './upstream/upstreams.js'

export interface ControlPlaneOptions {
  clock: Clock
  logger: Logger
  /** the node set health probes and describes (the data plane's own in one process) */
  upstreams: Upstreams
  /**
   * where /metrics gets the data plane's figures from when they live in other processes
   * (workers); absent, this process's registry holds them
   */
  externalMetrics?: (own: Metrics) => Promise<{ contentType: string; body: string }>
  /** a node's requests in flight when other processes forward (workers); default node.inflight */
  inflightOf?: (node: UpstreamNode) => number
}

/** Told that the split or a node's usability changed: the routing tables must be rebuilt. */
type RoutingListener = () => void

/** The config keys a reload cannot change in a running process. */
export function keysNeedingRestart(prev: Config, next: Config): string[] {
  const keys: string[] = []
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  if (!same(prev.proxy.listen, next.proxy.listen)) keys.push('proxy.listen')
  // new files for the same listener are read on reload (both listeners); turning TLS on or off needs a restart
  if (Boolean(prev.proxy.tls) !== Boolean(next.proxy.tls)) keys.push('proxy.tls')
  if (prev.proxy.workers !== next.proxy.workers) keys.push('proxy.workers')
  if (prev.proxy.proxy_protocol !== next.proxy.proxy_protocol) keys.push('proxy.proxy_protocol')
  if (!same(prev.control.listen, next.control.listen)) keys.push('control.listen')
  if (Boolean(prev.control.tls) !== Boolean(next.control.tls)) keys.push('control.tls')
  if (prev.state.path !== next.state.path) keys.push('state.path')
  if (prev.state.backend !== next.state.backend) keys.push('state.backend')
  if (!same(prev.state.etcd, next.state.etcd)) keys.push('state.etcd')
  if (prev.state.replica_id !== next.state.replica_id) keys.push('state.replica_id')
  return keys
}

/** The start-up log line both modes write: listeners, pools, split. */
export function startedLine(proxy: HostPort, control: HostPort, upstreams: Upstreams, state: Readonly<LiveState>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    proxy,
    control,
    pools: { x: upstreams.nodes.x.map((n) => n.config.url), y: upstreams.nodes.y.map((n) => n.config.url) },
    split: { x: xShare(state.y), y: state.y },
    locked: state.locked,
    ...extra,
  }
}

/** Events kept in memory and read back from the audit file at start: a busy night's worth (a few MB). */
const EVENTS_KEPT = 10_000
/** ms the control listener's open requests get at shutdown, after the data plane's drain */
const CLOSE_GRACE_MS = 500

function address(app: FastifyInstance): HostPort {
  const a = app.server.address()
  if (a && typeof a === 'object') return { host: a.address, port: a.port }
  throw new Error('listener has no address')
}

export class ControlPlane {
  readonly state: StateController
  readonly events: EventLog
  readonly health: HealthMonitor
  readonly gatekeeper: Gatekeeper
  readonly runner: RolloutRunner
  readonly metrics: Metrics
  /** where the live state lives: the state file, or a fleet's etcd (issue 11) */
  readonly backend: StateBackend
  /** issue 13: shadow results, config drift, PromQL gates, step hooks */
  readonly analysis: Analysis
  /** the console's 15 minutes of per-pool figures */
  readonly history: TrafficHistory
  #webhook: WebhookNotifier | undefined
  #webhookUrl: string | undefined
  readonly #clock: Clock
  /** what the data plane reports: health (passive), gates */
  readonly sink: OutcomeReport
  readonly #app: FastifyInstance
  readonly #upstreams: Upstreams
  readonly #logger: Logger
  readonly #inflightOf: ((node: UpstreamNode) => number) | undefined
  #routingListener: RoutingListener | undefined
  readonly #audit: AuditFile
  #config: Config

  /**
   * Load the state (file: the file first, else split.y, a bad file moved aside; etcd: the
   * fleet's shared state, else split.y) and build everything. Nothing is told of routing
   * changes until onRoutingChange connects a listener: build the data plane from this
   * one, then connect them.
   */
  static async create(config: Config, options: ControlPlaneOptions): Promise<ControlPlane> {
    const events = new EventLog(options.clock, EVENTS_KEPT)
    // the audit trail from before this start comes first, so ids go on from the last
    const audit = new AuditFile({ path: auditPathFor(config.state.path), maxBytes: config.events.audit.max_size, keep: config.events.audit.keep, logger: options.logger })
    events.restore(audit.load(EVENTS_KEPT).events)
    audit.open()
    events.setSink((e) => audit.append(e))
    let metrics: Metrics | undefined
    // the etcd client (grpc-js, protobufs: ~20 MiB of RSS) is loaded only for a fleet
    const backend: StateBackend =
      config.state.backend === 'etcd'
        ? new (await import('./fleet/etcd-backend.js')).EtcdBackend(config, { clock: options.clock, logger: options.logger, events, onPropagation: (ms) => metrics?.propagated(ms) })
        : new FileBackend(config, options.clock, options.logger)
    const { state, event } = await backend.initial(config)
    const controller = new StateController(state, backend.store, events)
    events.add(event[0], event[1])
    const plane = new ControlPlane(config, options, controller, events, audit, backend)
    metrics = plane.metrics
    return plane
  }

  private constructor(config: Config, options: ControlPlaneOptions, state: StateController, events: EventLog, audit: AuditFile, backend: StateBackend) {
    const { clock, logger, upstreams } = options
    this.#config = config
    this.#upstreams = upstreams
    this.#logger = logger
    this.#clock = clock
    this.#inflightOf = options.inflightOf
    this.state = state
    this.events = events
    this.#audit = audit
    this.backend = backend
    const health = new HealthMonitor({
      health: config.health,
      clock,
      events,
      logger,
      onChange: () => this.#routingListener?.(),
      admitted: (node) => adminStateOf(state.current, node.pool, node.name) === 'ready',
    })
    health.setNodes(upstreams.nodes)
    this.health = health
    this.#applyMaintenance()
    // a failing gate rolls back or pauses a rollout through the state: it needs no runner,
    // so the runner (which reads the gate's verdict) is built after it, nothing in between
    const gatekeeper = new Gatekeeper({ gates: config.gates, state, events, clock, logger })
    this.gatekeeper = gatekeeper
    const analysis = new Analysis(config, {
      state,
      events,
      clock,
      logger,
      upstreams,
      onShadow: (o, n) => this.metrics.shadow(o, n),
      onShadowDrop: (r, n) => this.metrics.shadowDropped(r, n),
      onDrift: (d) => this.metrics.drift(d.kind),
    })
    this.analysis = analysis
    // in a fleet every replica still judges its own traffic (and rolls back on it, safety
    // first); the elected leader also judges the fleet's summed traffic and walks the rollout
    backend.attach({
      state,
      events,
      gates: config.gates,
      takeOverRollout: () => this.runner.resumeAfterRestart(),
      nodes: () => POOLS.flatMap((pool) => upstreams.nodes[pool].map((node) => ({ pool, name: node.name, usable: this.isUsable(node) }))),
    })
    this.runner = new RolloutRunner({
      config: config.rollout,
      gates: config.gates,
      state,
      events,
      clock,
      gatekeeper: backend.gateView() ?? gatekeeper,
      logger,
      guard: analysis.guard,
      leads: () => backend.leads(),
    })

    const sources: MetricsSources = {
      splitY: () => state.current.y,
      health: {
        nodes: () => upstreams.nodes,
        isHealthy: (node) => health.isUsable(node) && node.healthy !== false,
        isEjected: (node, listener) => (listener === 'h2' ? node.h2EjectedUntil : node.ejectedUntil) > clock.now(),
      },
      admin: (node) => adminStateOf(state.current, node.pool, node.name),
      gates: () => gatekeeper.describe().checks.map((c) => ({ gate: c.gate, figure: c.figure, verdict: c.verdict })),
      configHashes: () => analysis.configHashes(),
      promGates: () => analysis.prom.verdicts(),
    }
    // with workers, each worker reports its own in-flight figures and connections; summed they are the total
    if (!options.externalMetrics) {
      sources.inflight = () => upstreams.inflightByPool()
      sources.connections = () => upstreams.nodes
    }
    sources.backend = () => backend.status()
    const metrics = new Metrics(sources)
    metrics.setNodes(upstreams.nodes)
    this.metrics = metrics
    // one place counts rollbacks (API, rollout abort, gate) and ejections: the events
    events.subscribe((e) => {
      // in a fleet, a rollback another replica made (e.replica) is counted there, not again here
      if (e.type === 'rollback' && e.replica === undefined) metrics.rollback(e.cause === 'gate' ? 'gate' : 'api')
      // an h2 listener's ejection (e.listener) shows in cutover_node_listener_ejected; this counts whole nodes
      else if (e.type === 'node.ejected' && e.listener === undefined) metrics.ejected(e.pool as PoolName, String(e.node))
    })
    state.onChange((next, prev) => {
      if (next.nodes !== prev.nodes) this.#applyMaintenance()
      this.#routingListener?.()
      if (next.y !== prev.y || next.locked !== prev.locked) logger.info({ y: next.y, x: xShare(next.y), locked: next.locked, lock_reason: next.lock_reason }, 'split changed')
    })
    this.history = new TrafficHistory(clock, grpcMask(config.gates.grpc_failures))
    this.sink = fanOut(backend.sink ? [this.health, this.gatekeeper, this.history, backend.sink] : [this.health, this.gatekeeper, this.history])
    this.#setWebhook(config.events.webhook)

    const external = options.externalMetrics
    this.#app = buildControlServer({
      token: () => this.#config.control.token,
      viewerToken: () => this.#config.control.viewer_token,
      tls: () => this.#config.control.tls,
      nodes: { change: (pool, name, req) => this.changeNode(pool, name, req) },
      state,
      events,
      describe: () => this.describe(),
      metrics: external ? () => external(this.metrics) : () => this.metrics.render(),
      readiness: () => this.#readiness(),
      rollout: this.runner,
      history: () => this.history.snapshot(),
      shadow: () => ({ enabled: this.#config.shadow !== undefined, ...analysis.shadow.report() }),
      logger,
      onAuthFailure: () => this.metrics.authFailure(),
      clock,
    })
  }

  /**
   * Connect the routing tables: listener runs whenever the split or a node's usability
   * changes (never during construction). One listener; a second call replaces it.
   */
  onRoutingChange(listener: RoutingListener): void {
    this.#routingListener = listener
  }

  /** Whether an operator put the node in maint: no traffic at all, its WebSocket tunnels included. */
  inMaint(node: UpstreamNode): boolean {
    return adminStateOf(this.state.current, node.pool, node.name) === 'maint'
  }

  /** Whether a node may take new requests now (routing tables are built from this): healthy and not drained or in maint. */
  isUsable(node: UpstreamNode): boolean {
    return adminStateOf(this.state.current, node.pool, node.name) === 'ready' && this.health.isUsable(node)
  }

  /** A node's weight for routing: an operator's runtime weight, else the config's. */
  weightOf(node: UpstreamNode): number {
    return effectiveWeight(this.state.current, node.pool, node.name, node.weight)
  }

  /** PUT /v1/nodes/{pool}/{node}: an operator's change to one node, through the state (disk first). */
  changeNode(pool: PoolName, name: string, req: NodeChangeRequest): Promise<unknown> {
    const nodes = this.#upstreams.nodes[pool]
    const node = nodes.find((n) => n.name === name)
    if (!node) throw new CutoverError('CUTOVER_ERR_NOT_FOUND', `no node ${name} in pool ${pool}; its nodes: ${nodes.map((n) => n.name).join(', ') || 'none'}`)
    const takes = (n: UpstreamNode, s: Readonly<LiveState>) => adminStateOf(s, n.pool, n.name) === 'ready' && this.health.isUsable(n)
    return this.state.changeNode(
      pool,
      name,
      req,
      node.weight,
      (s) => ({
        at: new Date(this.#clock.now()).toISOString(),
        poolServes: pool === 'y' ? s.y > 0 : s.y < 100,
        usableNow: takes(node, s),
        othersUsable: nodes.filter((n) => n !== node && takes(n, s)).length,
      }),
      'api',
    )
  }

  /** Nodes in maint are not probed. */
  #applyMaintenance(): void {
    const s = this.state.current
    const maint: UpstreamNode[] = []
    for (const pool of POOLS) for (const node of this.#upstreams.nodes[pool]) if (adminStateOf(s, pool, node.name) === 'maint') maint.push(node)
    this.health.setMaintenance(maint)
  }

  /** The body of GET /v1/state: the contract in control/api-types.ts. */
  describe(): StateView {
    const s = this.state.current
    const inflightOf = this.#inflightOf
    const nodes = (pool: PoolName) => ({
      nodes: this.#upstreams.nodes[pool].map((node) => {
        const runtime = nodeAdminOf(s, pool, node.name)?.weight ?? null
        return {
          ...this.health.describe(node, inflightOf ? inflightOf(node) : node.inflight),
          admin: adminStateOf(s, pool, node.name),
          weight: runtime ?? node.weight,
          weight_source: runtime === null ? ('config' as const) : ('runtime' as const),
          config_weight: node.weight,
          ...(this.analysis.drift !== undefined && { config_hash: this.analysis.hashOf(node) ?? null, config_hash_error: this.analysis.hashErrorOf(node) ?? null }),
        }
      }),
    })
    const pools = { x: nodes('x'), y: nodes('y') }
    const fleet = this.backend.describe()
    return {
      split: { x: xShare(s.y), y: s.y },
      locked: s.locked,
      lock_reason: s.lock_reason,
      rollout: this.runner.describe(),
      pools,
      gates: this.gatekeeper.describe(),
      analysis: this.analysis.view(),
      ...(fleet !== null && { fleet }),
    }
  }

  /** Ready when the nodes are (health) and, in a fleet, when the shared state can be reached. */
  #readiness(): { ready: boolean; reason?: string } {
    const b = this.backend.status()
    if (!b.up) return { ready: false, reason: `state backend etcd unreachable (${b.reason ?? 'no answer'}): routing stays at the last known split; control writes answer 503` }
    return this.health.readiness(this.state.current.y, (node) => this.isUsable(node))
  }

  /** Bind the control listener, then start probes, gates and any rollout left running. */
  async listen(): Promise<HostPort> {
    await this.#app.listen({ host: this.#config.control.listen.host, port: this.#config.control.listen.port })
    this.health.start()
    this.gatekeeper.start()
    this.analysis.start()
    const control = address(this.#app)
    // in a fleet, the leader takes a stored rollout over when it is elected
    if (this.backend.kind === 'file') this.runner.resumeAfterRestart()
    else await this.backend.start(control)
    return control
  }

  /** Apply a reloaded config; the node set has already been reconciled. Raises the event. */
  reload(config: Config, changes: Reconciled): void {
    const needsRestart = keysNeedingRestart(this.#config, config)
    this.#config = config
    this.health.configure(config.health)
    this.health.setNodes(this.#upstreams.nodes)
    // operators' node changes outlive a reload (runtime wins; see state/node-admin.ts)
    this.#applyMaintenance()
    this.metrics.setNodes(this.#upstreams.nodes)
    this.gatekeeper.configure(config.gates)
    this.history.setGrpcFailures(grpcMask(config.gates.grpc_failures))
    this.runner.configure(config.rollout, config.gates)
    this.backend.configure(config)
    this.analysis.configure(config)
    if (config.events.webhook !== this.#webhookUrl) this.#setWebhook(config.events.webhook)
    if (config.control.tls && !needsRestart.includes('control.tls')) {
      try {
        reloadTls(this.#app.server as unknown as HttpsServer, config.control.tls, 'control.tls')
      } catch (err) {
        this.#logger.error({ err: (err as Error).message }, 'control TLS not reloaded: the running certificate stays')
      }
    }
    const details = {
      cause: 'reload',
      added: changes.added.map((n) => `${n.pool}:${n.config.url}`),
      removed: changes.removed.map((n) => `${n.pool}:${n.config.url}`),
      needs_restart: needsRestart,
    }
    this.events.add('config.reloaded', details)
    this.#logger.info(details, needsRestart.length ? 'config reloaded; some keys need a restart to take effect' : 'config reloaded')
  }

  /** Stop timers and probes; close the control listener last, so rollback works while draining. */
  stopDeciding(): void {
    this.health.stop()
    this.gatekeeper.stop()
    this.analysis.stop()
    this.runner.stop()
  }

  async close(): Promise<void> {
    this.stopDeciding()
    // idle keep-alive connections close at once; the others (a request in flight, or one
    // that has sent nothing or half a request: Node gives a silent one no deadline at all)
    // are cut after CLOSE_GRACE_MS, so they never hold the exit
    const closed = this.#app.close()
    const cut = this.#clock.setTimeout(() => this.#app.server.closeAllConnections(), CLOSE_GRACE_MS)
    await closed
    this.#clock.clearTimeout(cut)
    this.#webhook?.stop()
    // after the listener: a rollback asked while draining is still shared; the lease goes last
    await this.backend.close()
    this.#audit.close()
  }

  #setWebhook(url: string | undefined): void {
    this.#webhook?.stop()
    this.#webhookUrl = url
    this.#webhook = url
      ? new WebhookNotifier({
          url,
          events: this.events,
          clock: this.#clock,
          logger: this.#logger,
          onFailure: () => this.metrics.webhookFailure('failed'),
          onDropped: () => this.metrics.webhookFailure('dropped'),
        })
      : undefined
  }
}
