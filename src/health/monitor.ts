/**
 * Which nodes can take traffic: active probe verdicts, passive ejections, readiness.
 * Writes node.healthy and node.ejectedUntil, raises an event for every transition and
 * calls onChange so the routing table is rebuilt. The OutcomeSink methods run per
 * request: they are O(1) and allocate nothing unless a node gets ejected.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import { POOLS, type Config, type PoolName } from '../config/types.js'
import type { FailureKind, Listener, OutcomeSink } from '../outcome/outcome-sink.js'
import type { EventLog } from '../state/events.js'
import type { UpstreamNode } from '../upstream/node.js'
import { eject, ejectionCause, isGatewayFailure, newOutlierState, recordFailure, recordSuccess, type FailureCause, type OutlierState } from './outlier.js'
import { applyProbe, initialCounters, type ProbeCounters, type ProbeResult } from './probe-state.js'
import { Prober, type ProbeFn } from './prober.js'

export interface HealthMonitorOptions {
  health: Config['health']
  clock: Clock
  events: EventLog
  logger: Logger
  /** usability of some node may have changed: rebuild the routing table */
  onChange: () => void
  /** replaces the HTTP probe, for tests */
  probe?: ProbeFn
  /** whether an operator lets a node take traffic (not drained, not in maint); default all */
  admitted?: (node: UpstreamNode) => boolean
}

/** A node as the API and metrics show it. */
export interface NodeDescription {
  url: string
  name: string
  healthy: boolean | null
  ejected: boolean
  ejected_until: string | null
  /** issue 12: a node with an h2 address: its h2 listener ejected on its own (the node's url keeps serving) */
  h2_ejected?: boolean
  h2_ejected_until?: string | null
  last_probe: { ok: boolean; at: string; status?: number; error?: string; ms: number } | null
  /** why a request's attempt on the node last failed (reported at most every 10 s per failure); null: none since start or reload */
  last_failure: { kind: FailureKind; why: string; at: string } | null
  inflight: number
}

export interface Readiness {
  ready: boolean
  reason?: string
}

interface NodeRecord {
  node: UpstreamNode
  counters: ProbeCounters
  outlier: OutlierState
  lastProbe: ProbeResult | null
  lastProbeAt: number
  /** why the node's last reported attempt failed (failureExplained), with when (ms epoch) */
  lastFailure: { kind: FailureKind; why: string; at: number } | null
  returnTimer: TimerHandle | null
  /** the node's h2 listener: its own failures, ejection and return (node.h2EjectedUntil) */
  h2: { outlier: OutlierState; returnTimer: TimerHandle | null }
}

export class HealthMonitor implements OutcomeSink {
  readonly #clock: Clock
  readonly #events: EventLog
  readonly #logger: Logger
  readonly #onChange: () => void
  readonly #admitted: (node: UpstreamNode) => boolean
  readonly #prober: Prober
  readonly #records = new Map<UpstreamNode, NodeRecord>()
  #pools: Record<PoolName, UpstreamNode[]> = { x: [], y: [] }
  #health: Config['health']
  /** nodes an operator put in maint: not probed, no verdict (issue 14) */
  #maint: ReadonlySet<UpstreamNode> = new Set()

  constructor(options: HealthMonitorOptions) {
    this.#clock = options.clock
    this.#events = options.events
    this.#logger = options.logger
    this.#onChange = options.onChange
    this.#admitted = options.admitted ?? (() => true)
    this.#health = options.health
    this.#prober = new Prober({ clock: options.clock, probe: options.probe, onResult: (node, result) => this.#probed(node, result) })
    this.#prober.setConfig(options.health.active)
  }

  /** The nodes of each pool, at start and on reload; kept objects keep their state. */
  setNodes(nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>): void {
    const next = new Map<UpstreamNode, NodeRecord>()
    for (const pool of POOLS) {
      for (const node of nodes[pool]) {
        let rec = this.#records.get(node)
        if (!rec) {
          rec = {
            node,
            counters: initialCounters(),
            outlier: newOutlierState(),
            lastProbe: null,
            lastProbeAt: 0,
            lastFailure: null,
            returnTimer: null,
            h2: { outlier: newOutlierState(), returnTimer: null },
          }
          // without active checks only passive ejection decides
          if (!this.#health.active) node.healthy = true
        }
        next.set(node, rec)
      }
    }
    for (const [node, rec] of this.#records) {
      if (!next.has(node)) {
        this.#clock.clearTimeout(rec.returnTimer)
        this.#clock.clearTimeout(rec.h2.returnTimer)
      }
    }
    this.#records.clear()
    for (const [node, rec] of next) this.#records.set(node, rec)
    this.#pools = { x: nodes.x.slice(), y: nodes.y.slice() }
    this.#prober.setNodes(this.#probedNodes())
    this.#onChange()
  }

  /**
   * The nodes in maint (issue 14): they are not probed and have no verdict. A node that
   * leaves maint starts from no verdict, so with active checks it takes traffic again
   * once the probes find it healthy (unless no node of its pool has a verdict yet).
   */
  setMaintenance(nodes: Iterable<UpstreamNode>): void {
    const next = new Set(nodes)
    let changed = false
    for (const node of next) if (!this.#maint.has(node)) changed = this.#forgetVerdict(node) || changed
    for (const node of this.#maint) if (!next.has(node)) changed = this.#forgetVerdict(node) || changed
    this.#maint = next
    if (!changed) return
    this.#prober.setNodes(this.#probedNodes())
    this.#onChange()
  }

  #forgetVerdict(node: UpstreamNode): boolean {
    const rec = this.#records.get(node)
    if (!rec) return false
    rec.counters = initialCounters()
    rec.lastProbe = null
    if (this.#health.active) node.healthy = null
    return true
  }

  #probedNodes(): UpstreamNode[] {
    return [...this.#records.keys()].filter((node) => !this.#maint.has(node))
  }

  /** Apply new thresholds and intervals; switching active checks off marks every node healthy. */
  configure(health: Config['health']): void {
    const wasActive = this.#health.active !== undefined
    this.#health = health
    if (!health.active && wasActive) {
      for (const rec of this.#records.values()) {
        rec.counters = initialCounters()
        if (rec.node.healthy !== true) this.#transition(rec, true, 'active health checks off')
      }
    } else if (health.active && !wasActive) {
      // nodes keep serving as healthy until probes say otherwise
      for (const rec of this.#records.values()) rec.counters = initialCounters()
    }
    this.#prober.setConfig(health.active)
    this.#onChange()
  }

  /** Begin probing. */
  start(): void {
    this.#prober.start()
  }

  /** Stop probing and forget pending ejection timers. */
  stop(): void {
    this.#prober.stop()
    for (const rec of this.#records.values()) {
      this.#clock.clearTimeout(rec.returnTimer)
      rec.returnTimer = null
      this.#clock.clearTimeout(rec.h2.returnTimer)
      rec.h2.returnTimer = null
    }
  }

  /** May node take new requests now. */
  isUsable(node: UpstreamNode): boolean {
    if (node.removed || node.ejectedUntil > this.#clock.now()) return false
    if (node.healthy !== null) return node.healthy
    // at start-up no verdict yet anywhere in the pool: better to try than to black-hole
    return !this.#poolHasVerdict(node.pool)
  }

  /** The node's health for the API; inflight: its requests in flight, when other processes count them. */
  describe(node: UpstreamNode, inflight: number = node.inflight): NodeDescription {
    const rec = this.#records.get(node)
    const now = this.#clock.now()
    const ejected = node.ejectedUntil > now
    const p = rec?.lastProbe
    let lastProbe: NodeDescription['last_probe'] = null
    if (rec && p) {
      lastProbe = { ok: p.ok, at: new Date(rec.lastProbeAt).toISOString(), ms: p.ms }
      if (p.status !== undefined) lastProbe.status = p.status
      if (p.error !== undefined) lastProbe.error = p.error
    }
    const view: NodeDescription = {
      url: node.config.url,
      name: node.name,
      healthy: node.healthy,
      ejected,
      ejected_until: ejected ? new Date(node.ejectedUntil).toISOString() : null,
      last_probe: lastProbe,
      last_failure: rec?.lastFailure ? { kind: rec.lastFailure.kind, why: rec.lastFailure.why, at: new Date(rec.lastFailure.at).toISOString() } : null,
      inflight,
    }
    if (node.config.h2 !== undefined) {
      view.h2_ejected = node.h2EjectedUntil > now
      view.h2_ejected_until = view.h2_ejected ? new Date(node.h2EjectedUntil).toISOString() : null
    }
    return view
  }

  /**
   * Ready when some pool with a share above 0 has a usable node; y is the share of y.
   * usable: the control plane's own test (health and an operator's drain or maint).
   */
  readiness(y: number, usable: (node: UpstreamNode) => boolean = (node) => this.isUsable(node)): Readiness {
    const serving: PoolName[] = []
    if (100 - y > 0) serving.push('x')
    if (y > 0) serving.push('y')
    for (const pool of serving) {
      for (const node of this.#pools[pool]) if (usable(node)) return { ready: true }
    }
    const names = serving.length === 1 ? `pool ${serving[0]}` : `pools ${serving.join(' and ')}`
    return { ready: false, reason: `no usable node in ${names}` }
  }

  /** Why an attempt on node failed, in words: kept as the node's last failure for the API. */
  failureExplained(node: UpstreamNode, kind: FailureKind, why: string): void {
    const rec = this.#records.get(node)
    if (rec) rec.lastFailure = { kind, why: why.slice(0, 300), at: this.#clock.now() }
  }

  /** A connect error, reset, timeout or protocol error on node (on its h2 listener when listener is h2). */
  attemptFailed(node: UpstreamNode, kind: FailureKind, listener?: Listener): void {
    const rec = this.#records.get(node)
    if (!rec) return
    if (listener === 'h2') this.#h2Failed(rec, kind)
    else this.#failed(rec, kind)
  }

  /** node answered: 502/503/504 count as failures, anything else resets the count (of the listener that answered). */
  answered(node: UpstreamNode, status: number, _ms: number, _grpcFailed?: boolean, listener?: Listener): void {
    const rec = this.#records.get(node)
    if (!rec) return
    const h2 = listener === 'h2'
    if (isGatewayFailure(status)) {
      if (h2) this.#h2Failed(rec, status)
      else this.#failed(rec, status)
    } else {
      recordSuccess(h2 ? rec.h2.outlier : rec.outlier)
    }
  }

  #failed(rec: NodeRecord, cause: FailureCause): void {
    const passive = this.#health.passive
    const now = this.#clock.now()
    if (!recordFailure(rec.outlier, cause, now, passive)) return
    const ms = eject(rec.outlier, now, this.#otherUsable(rec.node), passive)
    if (ms === 0) return
    const node = rec.node
    node.ejectedUntil = rec.outlier.ejectedUntil
    const until = new Date(node.ejectedUntil).toISOString()
    const details = { pool: node.pool, node: node.name, cause: ejectionCause(rec.outlier, passive), for_ms: ms, until, ...whyOf(rec, cause, now) }
    this.#events.add('node.ejected', details)
    this.#logger.warn(details, 'node ejected')
    this.#clock.clearTimeout(rec.returnTimer)
    rec.returnTimer = this.#clock.setTimeout(() => this.#returned(rec, ms), ms)
    this.#onChange()
  }

  /**
   * A failure of the node's h2 listener: counted and ejected on its own, by the same rules;
   * the node's url (HTTP/1.1) keeps serving, h2 streams that are not gRPC go there meanwhile.
   */
  #h2Failed(rec: NodeRecord, cause: FailureCause): void {
    const passive = this.#health.passive
    const now = this.#clock.now()
    const h2 = rec.h2
    if (!recordFailure(h2.outlier, cause, now, passive)) return
    const ms = eject(h2.outlier, now, this.#otherH2Usable(rec.node, now), passive)
    if (ms === 0) return
    const node = rec.node
    node.h2EjectedUntil = h2.outlier.ejectedUntil
    const until = new Date(node.h2EjectedUntil).toISOString()
    const details = { pool: node.pool, node: node.name, listener: 'h2', cause: `h2 listener ${ejectionCause(h2.outlier, passive)}`, for_ms: ms, until, ...whyOf(rec, cause, now) }
    this.#events.add('node.ejected', details)
    this.#logger.warn(details, 'node h2 listener ejected')
    this.#clock.clearTimeout(h2.returnTimer)
    h2.returnTimer = this.#clock.setTimeout(() => this.#h2Returned(rec, ms), ms)
    this.#onChange()
  }

  #h2Returned(rec: NodeRecord, ms: number): void {
    rec.h2.returnTimer = null
    if (this.#records.get(rec.node) !== rec) return
    rec.node.h2EjectedUntil = 0
    const details = { pool: rec.node.pool, node: rec.node.name, listener: 'h2', cause: `h2 listener ejection over after ${ms}ms` }
    this.#events.add('node.returned', details)
    this.#logger.info(details, 'node h2 listener returned')
    this.#onChange()
  }

  #returned(rec: NodeRecord, ms: number): void {
    rec.returnTimer = null
    if (this.#records.get(rec.node) !== rec) return
    rec.node.ejectedUntil = 0
    const details = { pool: rec.node.pool, node: rec.node.name, cause: `ejection over after ${ms}ms` }
    this.#events.add('node.returned', details)
    this.#logger.info(details, 'node returned')
    this.#onChange()
  }

  #probed(node: UpstreamNode, result: ProbeResult): void {
    const rec = this.#records.get(node)
    const active = this.#health.active
    if (!rec || !active || this.#maint.has(node)) return
    rec.lastProbe = result
    rec.lastProbeAt = this.#clock.now()
    const step = applyProbe(node.healthy, rec.counters, result, active)
    rec.counters = step.counters
    if (step.transition) {
      this.#transition(rec, step.transition.healthy, step.transition.cause)
      // a node the probes saw come back is trusted again at once, as Envoy does: otherwise a
      // node that was down for a second stays out for the whole eject_for
      if (step.transition.healthy && node.ejectedUntil > rec.lastProbeAt) this.#lift(rec, step.transition.cause)
      this.#onChange()
    }
  }

  #lift(rec: NodeRecord, cause: string): void {
    this.#clock.clearTimeout(rec.returnTimer)
    rec.returnTimer = null
    // the ejection ends now: the doubling streak counts from here
    rec.outlier.ejectedUntil = rec.lastProbeAt
    rec.outlier.failures = 0
    rec.node.ejectedUntil = 0
    const details = { pool: rec.node.pool, node: rec.node.name, cause: `ejection lifted: ${cause}` }
    this.#events.add('node.returned', details)
    this.#logger.info(details, 'node returned')
  }

  #transition(rec: NodeRecord, healthy: boolean, cause: string): void {
    const node = rec.node
    node.healthy = healthy
    const details = { pool: node.pool, node: node.name, cause }
    if (healthy) {
      this.#events.add('node.healthy', details)
      this.#logger.info(details, 'node healthy')
    } else {
      this.#events.add('node.unhealthy', details)
      this.#logger.warn(details, 'node unhealthy')
    }
  }

  #otherUsable(node: UpstreamNode): number {
    let n = 0
    // a drained node takes no traffic: ejecting the last one an operator left in would empty the pool
    for (const other of this.#pools[node.pool]) if (other !== node && this.#admitted(other) && this.isUsable(other)) n++
    return n
  }

  /** Other nodes of the pool a gRPC call could go to: usable, with an h2 listener not ejected. */
  #otherH2Usable(node: UpstreamNode, now: number): number {
    let n = 0
    for (const other of this.#pools[node.pool]) {
      if (other !== node && other.config.h2 !== undefined && other.h2EjectedUntil <= now && this.#admitted(other) && this.isUsable(other)) n++
    }
    return n
  }

  #poolHasVerdict(pool: PoolName): boolean {
    for (const node of this.#pools[pool]) if (node.healthy !== null && !node.removed) return true
    return false
  }
}

/** how old the node's last explained failure may be to be named in its ejection */
const WHY_FRESH = 60_000

/** `{ why }` for an ejection: what the node did, when its last explained failure (failureExplained) is of this kind and recent; else nothing. */
function whyOf(rec: NodeRecord, cause: FailureCause, now: number): { why?: string } {
  const f = rec.lastFailure
  return f !== null && f.kind === cause && now - f.at <= WHY_FRESH ? { why: f.why } : {}
}
