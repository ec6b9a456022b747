/**
 * Every metric cutover exports, declared in one place (SPEC section 6 plus extensions),
 * on its own prom-client registry. Counters on the hot path use children cached per
 * label set; gauges that mirror state are computed at scrape time.
 */

import { ADMIN_STATES, type AdminState } from '../state/types.js'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PoolName } from '../config/types.js'
import { xShare } from '../config/percent.js'
import { POOL_INDEX, POOLS } from '../config/types.js'
import { GRPC_CODES } from '../h2/grpc-status.js'
import { DROP_REASONS, type DropReason } from '../shadow/results.js'
import { FAILURE_KINDS, PROTOCOLS, REFUSAL_REASONS, type FailureKind, type Listener, type OutcomeSink, type Protocol, type RefusalReason } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'
import { FastHistogram } from './fast-histogram.js'

const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Node's default gauges whose `_total` suffix Prometheus reserves for counters. */
export const NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/** What the gauges read at scrape time. */
export interface MetricsSources {
  /** absent in a worker process: the control plane reports the split */
  splitY?: () => number
  /** absent in a worker process: the control plane reports node health */
  health?: {
    nodes: () => Readonly<Record<PoolName, readonly UpstreamNode[]>>
    /** true healthy, false not; a node with no verdict yet counts as not healthy */
    isHealthy: (node: UpstreamNode) => boolean
    /** issue 12: whether passive health has the node's listener ejected (http1: the node; h2: its h2 address alone) */
    isEjected?: (node: UpstreamNode, listener: Listener) => boolean
  }
  /** each gate's last figure and verdict (1 pass, 0 no verdict, -1 fail) */
  gates?: () => ReadonlyArray<{ gate: string; figure: number | null; verdict: 'pass' | 'fail' | 'none' }>
  /** requests in flight to each pool's nodes; absent where another process reports them */
  inflight?: () => Readonly<Record<PoolName, number>>
  /** the nodes whose HTTP/1.1 connection pools this process holds; absent where other processes hold them (workers report their own) */
  connections?: () => Readonly<Record<PoolName, readonly UpstreamNode[]>>
  /** absent in a worker process: each node's admin state (issue 14), read with health.nodes */
  admin?: (node: UpstreamNode) => AdminState
  /** the state backend (issue 11): reachable or not; for a fleet, leadership and replicas seen */
  backend?: () => { up: boolean; leading: boolean | null; replicas: number | null }
  /** issue 13: each node's Kong configuration_hash (null: unknown yet) */
  configHashes?: () => ReadonlyArray<{ pool: PoolName; node: string; hash: string | null }>
  /** issue 13: each PromQL gate's last value (null: no data) and verdict */
  promGates?: () => ReadonlyArray<{ gate: string; value: number | null; verdict: 'pass' | 'fail' | 'none' }>
}

export const SHADOW_OUTCOME_LABELS = ['match', 'mismatch', 'error', 'dropped'] as const
export const DRIFT_KINDS = ['pool_disagrees', 'hash_changed'] as const

type CounterChild = ReturnType<Counter<string>['labels']>

export class Metrics implements OutcomeSink {
  readonly registry = new Registry()
  readonly #requests: Counter<'pool' | 'code'>
  readonly #duration: FastHistogram
  readonly #upstreamErrors: Counter<'pool' | 'node' | 'kind'>
  readonly #rollbacks: Counter<'trigger'>
  readonly #ejections: Counter<'pool' | 'node'>
  readonly #authFailures: Counter<string>
  readonly #webhookFailures: Counter<'outcome'>
  readonly #shed: Counter<string>
  readonly #refused: Counter<'reason'>
  readonly #propagation: Histogram<string>
  readonly #shadow: Counter<'outcome'>
  readonly #shadowDropped: Counter<'reason'>
  readonly #drift: Counter<'kind'>
  /** requests per pool and status class since the last scrape, flushed into the counter then */
  readonly #pending = { x: new Float64Array(6), y: new Float64Array(6) }
  readonly #errorChildren = new Map<UpstreamNode, Record<FailureKind, CounterChild>>()
  /** requests per pool and protocol (index in PROTOCOLS) since the last scrape */
  readonly #pendingProtocol = { x: new Float64Array(PROTOCOLS.length), y: new Float64Array(PROTOCOLS.length) }
  /** gRPC calls per pool and grpc-status code since the last scrape */
  readonly #pendingGrpc = { x: new Float64Array(GRPC_CODES.length), y: new Float64Array(GRPC_CODES.length) }

  constructor(sources: MetricsSources, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry]
    const pending = this.#pending
    // counted in plain arrays per request; prom-client's hashing of label sets happens once
    // per scrape here, not on every request
    this.#requests = new Counter({
      name: 'cutover_requests_total',
      help: 'Client requests by the pool that served them and the status class the client got',
      labelNames: ['pool', 'code'],
      registers,
      collect() {
        for (const pool of POOLS) {
          const counts = pending[pool]
          for (let cls = 1; cls <= 5; cls++) {
            if (counts[cls] > 0) this.inc({ pool, code: STATUS_CLASSES[cls] }, counts[cls])
            counts[cls] = 0
          }
        }
      },
    })
    const pendingProtocol = this.#pendingProtocol
    new Counter({
      name: 'cutover_protocol_requests_total',
      help: 'Client requests by pool and the protocol the client spoke (http1: HTTP/1.x; h2: HTTP/2 over TLS or h2c, gRPC included)',
      labelNames: ['pool', 'protocol'],
      registers,
      collect() {
        for (const pool of POOLS) {
          const counts = pendingProtocol[pool]
          for (let i = 0; i < PROTOCOLS.length; i++) {
            this.inc({ pool, protocol: PROTOCOLS[i] }, counts[i])
            counts[i] = 0
          }
        }
      },
    })
    const pendingGrpc = this.#pendingGrpc
    new Counter({
      name: 'cutover_grpc_requests_total',
      help: 'gRPC calls by pool and the grpc-status the client got (trailers or a trailers-only answer; cutover_requests_total has the HTTP status class)',
      labelNames: ['pool', 'grpc_status'],
      registers,
      collect() {
        for (const pool of POOLS) {
          const counts = pendingGrpc[pool]
          for (let code = 0; code < GRPC_CODES.length; code++) {
            if (counts[code] > 0) this.inc({ pool, grpc_status: GRPC_CODES[code] }, counts[code])
            counts[code] = 0
          }
        }
      },
    })
    this.#duration = new FastHistogram({
      name: 'cutover_request_duration_seconds',
      help: 'Time from the client request to the response headers, by pool',
      labelName: 'pool',
      labelValues: POOLS,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    })
    this.#upstreamErrors = new Counter({ name: 'cutover_upstream_errors_total', help: 'Attempts on a node that got no usable answer, by kind', labelNames: ['pool', 'node', 'kind'], registers })
    this.#rollbacks = new Counter({ name: 'cutover_rollbacks_total', help: 'Rollbacks to x, by what triggered them', labelNames: ['trigger'], registers })
    this.#ejections = new Counter({ name: 'cutover_node_ejections_total', help: 'Passive ejections of a node after consecutive failures', labelNames: ['pool', 'node'], registers })
    this.#authFailures = new Counter({ name: 'cutover_control_auth_failures_total', help: 'Control API requests refused for a missing or wrong token', registers })
    this.#shed = new Counter({ name: 'cutover_shed_total', help: 'Requests answered 503 at proxy.max_inflight without touching a node', registers })
    this.#refused = new Counter({
      name: 'cutover_requests_refused_total',
      help: 'Client requests refused before reaching a node: ambiguous framing, head too large, head too slow; h2_*: an HTTP/2 session ended with GOAWAY for flooding (rapid reset, PING, SETTINGS, CONTINUATION) or a protocol error',
      labelNames: ['reason'],
      registers,
    })
    for (const reason of REFUSAL_REASONS) this.#refused.labels(reason).inc(0)
    this.#webhookFailures = new Counter({
      name: 'cutover_webhook_failures_total',
      help: 'Webhook notifications not delivered: failed after retries, or dropped from a full queue',
      labelNames: ['outcome'],
      registers,
    })
    this.#propagation = new Histogram({
      name: 'cutover_state_propagation_seconds',
      help: 'Fleet: time from a state change written by another replica to this replica applying it (writer clock to reader clock)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
      registers,
    })
    // issue 13: shadow comparisons, config drift, PromQL gates
    this.#shadow = new Counter({
      name: 'cutover_shadow_total',
      help: "Copies of x's requests sent to y, by outcome of the comparison (match, mismatch, error: y failed, dropped: cap, time limit or no y node)",
      labelNames: ['outcome'],
      registers,
    })
    for (const o of SHADOW_OUTCOME_LABELS) this.#shadow.labels(o).inc(0)
    this.#shadowDropped = new Counter({
      name: 'cutover_shadow_dropped_total',
      help: 'Shadow copies dropped, by reason (busy: the cap, no_y_node, timeout: the time limit, x_aborted, body_too_large, x_failed: cutover answered 502/503/504 in place of x); their sum is cutover_shadow_total{outcome="dropped"}',
      labelNames: ['reason'],
      registers,
    })
    for (const r of DROP_REASONS) this.#shadowDropped.labels(r).inc(0)
    this.#drift = new Counter({
      name: 'cutover_config_drift_total',
      help: "Config drifts seen in Kong's configuration_hash: a pool whose nodes disagree, a node whose hash changed during a rollout",
      labelNames: ['kind'],
      registers,
    })
    for (const k of DRIFT_KINDS) this.#drift.labels(k).inc(0)
    const configHashes = sources.configHashes
    if (configHashes) {
      new Gauge({
        name: 'cutover_node_config_hash_info',
        help: "1 for each node's last Kong configuration_hash (status listener's /status)",
        labelNames: ['pool', 'node', 'hash'],
        registers,
        collect() {
          this.reset()
          for (const h of configHashes()) if (h.hash !== null) this.set({ pool: h.pool, node: h.node, hash: h.hash }, 1)
        },
      })
    }
    const promGates = sources.promGates
    if (promGates) {
      new Gauge({
        name: 'cutover_prom_gate_value',
        help: "Each PromQL gate's last value (absent: no data)",
        labelNames: ['gate'],
        registers,
        collect() {
          this.reset()
          for (const g of promGates()) if (g.value !== null) this.set({ gate: g.gate }, g.value)
        },
      })
      new Gauge({
        name: 'cutover_prom_gate_verdict',
        help: "Each PromQL gate's last verdict: 1 pass, 0 no verdict (no data, query error), -1 fail",
        labelNames: ['gate'],
        registers,
        collect() {
          this.reset()
          for (const g of promGates()) this.set({ gate: g.gate }, g.verdict === 'pass' ? 1 : g.verdict === 'fail' ? -1 : 0)
        },
      })
    }
    const backend = sources.backend
    if (backend) {
      new Gauge({
        name: 'cutover_state_backend_up',
        help: 'Whether the state backend answers: 1 yes, 0 no (etcd unreachable: routing stays at the last known split, control writes answer 503)',
        registers,
        collect() {
          this.set(backend().up ? 1 : 0)
        },
      })
      new Gauge({
        name: 'cutover_fleet_leader',
        help: 'Fleet: 1 when this replica leads (sums the gate windows, runs the rollout), else 0',
        registers,
        collect() {
          this.set(backend().leading ? 1 : 0)
        },
      })
      new Gauge({
        name: 'cutover_fleet_replicas',
        help: 'Fleet: replicas this replica sees alive, itself included (0 with the file backend)',
        registers,
        collect() {
          this.set(backend().replicas ?? 0)
        },
      })
    }
    const splitY = sources.splitY
    if (splitY)
      new Gauge({
        name: 'cutover_split_percent',
        help: 'Share of traffic sent to each pool, percent',
        labelNames: ['pool'],
        registers,
        collect() {
          const y = splitY()
          this.set({ pool: 'y' }, y)
          this.set({ pool: 'x' }, xShare(y))
        },
      })
    const health = sources.health
    if (health)
      new Gauge({
        name: 'cutover_node_healthy',
        help: '1 when the node can take traffic (healthy and not ejected), else 0',
        labelNames: ['pool', 'node'],
        registers,
        collect() {
          this.reset()
          const nodes = health.nodes()
          for (const pool of POOLS) for (const node of nodes[pool]) this.set({ pool, node: node.name }, health.isHealthy(node) ? 1 : 0)
        },
      })
    const isEjected = health?.isEjected
    if (health && isEjected)
      new Gauge({
        name: 'cutover_node_listener_ejected',
        help: "1 while passive health keeps a node's listener out (http1: the node's url, the whole node; h2: its h2 address only), else 0",
        labelNames: ['pool', 'node', 'listener'],
        registers,
        collect() {
          this.reset()
          const nodes = health.nodes()
          for (const pool of POOLS) {
            for (const node of nodes[pool]) {
              this.set({ pool, node: node.name, listener: 'http1' }, isEjected(node, 'http1') ? 1 : 0)
              if (node.config.h2 !== undefined) this.set({ pool, node: node.name, listener: 'h2' }, isEjected(node, 'h2') ? 1 : 0)
            }
          }
        },
      })
    const admin = sources.admin
    if (health && admin)
      new Gauge({
        name: 'cutover_node_admin_state',
        help: "Each node's admin state set by an operator: 1 on the series of its state (ready, drain, maint), 0 on the others",
        labelNames: ['pool', 'node', 'state'],
        registers,
        collect() {
          this.reset()
          const nodes = health.nodes()
          for (const pool of POOLS) {
            for (const node of nodes[pool]) {
              const current = admin(node)
              for (const state of ADMIN_STATES) this.set({ pool, node: node.name, state }, state === current ? 1 : 0)
            }
          }
        },
      })
    const inflight = sources.inflight
    if (inflight)
      new Gauge({
        name: 'cutover_requests_in_flight',
        help: 'Requests in flight to the nodes of each pool',
        labelNames: ['pool'],
        registers,
        collect() {
          const counts = inflight()
          for (const pool of POOLS) this.set({ pool }, counts[pool])
        },
      })
    const connections = sources.connections
    if (connections) this.#connectionMetrics(connections, registers)
    if (sources.gates) {
      const gates = sources.gates
      new Gauge({
        name: 'cutover_gate_figure',
        help: "Each gate's last figure (error rate, error rate over x, p99 ms)",
        labelNames: ['gate'],
        registers,
        collect() {
          this.reset()
          for (const g of gates()) if (g.figure !== null) this.set({ gate: g.gate }, g.figure)
        },
      })
      new Gauge({
        name: 'cutover_gate_verdict',
        help: "Each gate's last verdict: 1 pass, 0 no verdict (too little traffic), -1 fail",
        labelNames: ['gate'],
        registers,
        collect() {
          this.reset()
          for (const g of gates()) this.set({ gate: g.gate }, g.verdict === 'pass' ? 1 : g.verdict === 'fail' ? -1 : 0)
        },
      })
    }
    for (const pool of POOLS) for (let cls = 2; cls <= 5; cls++) this.#requests.labels(pool, STATUS_CLASSES[cls]).inc(0)
    this.#rollbacks.labels('gate').inc(0)
    this.#rollbacks.labels('api').inc(0)
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry })
      // gauges named like counters break Prometheus' naming rules (`promtool check metrics`);
      // each is the sum of its per-type gauge kept beside it: sum(nodejs_active_handles)
      for (const name of NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name)
    }
  }

  /** Prepare the cached children of new nodes (called on start and reload). */
  /**
   * Each node's connection pool, read at scrape time: open connections by state, requests
   * waiting at proxy.upstream_max_connections, and connections opened (a counter kept
   * here, so a node replaced by a reload or removed keeps its series and never goes back).
   */
  #connectionMetrics(nodes: () => Readonly<Record<PoolName, readonly UpstreamNode[]>>, registers: Registry[]): void {
    new Gauge({
      name: 'cutover_upstream_connections',
      help: 'Open HTTP/1.1 connections to each node, by state: in_use (carrying a request, or connecting) and idle (kept for the next request)',
      labelNames: ['pool', 'node', 'state'],
      registers,
      collect() {
        this.reset()
        const all = nodes()
        for (const pool of POOLS) {
          for (const node of all[pool]) {
            const conns = node.dispatcher
            this.set({ pool, node: node.name, state: 'in_use' }, conns.open - conns.idle)
            this.set({ pool, node: node.name, state: 'idle' }, conns.idle)
          }
        }
      },
    })
    new Gauge({
      name: 'cutover_upstream_requests_waiting',
      help: 'Requests waiting for a free connection to each node, held at proxy.upstream_max_connections',
      labelNames: ['pool', 'node'],
      registers,
      collect() {
        this.reset()
        const all = nodes()
        for (const pool of POOLS) for (const node of all[pool]) this.set({ pool, node: node.name }, node.waiting)
      },
    })
    /** each node's count of opened connections at the last scrape */
    const seen = new WeakMap<UpstreamNode, number>()
    new Counter({
      name: 'cutover_upstream_connections_opened_total',
      help: 'Connections opened to each node; a rate close to the request rate means the node does not keep connections alive',
      labelNames: ['pool', 'node'],
      registers,
      collect() {
        const all = nodes()
        for (const pool of POOLS) {
          for (const node of all[pool]) {
            const opened = node.dispatcher.opened
            this.inc({ pool, node: node.name }, opened - (seen.get(node) ?? 0))
            seen.set(node, opened)
          }
        }
      },
    })
  }

  setNodes(nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>): void {
    for (const pool of POOLS) {
      for (const node of nodes[pool]) {
        if (this.#errorChildren.has(node)) continue
        const children = {} as Record<FailureKind, CounterChild>
        for (const kind of FAILURE_KINDS) {
          // a zero series from the start, so rate() and alerts see the node before its first error
          children[kind] = this.#upstreamErrors.labels(pool, node.name, kind)
          children[kind].inc(0)
        }
        this.#errorChildren.set(node, children)
      }
    }
    for (const node of this.#errorChildren.keys()) if (node.removed) this.#errorChildren.delete(node)
  }

  rollback(trigger: 'gate' | 'api'): void {
    this.#rollbacks.labels(trigger).inc()
  }

  /** A passive ejection of the node named name in pool (counted from the node.ejected event). */
  ejected(pool: PoolName, name: string): void {
    this.#ejections.labels(pool, name).inc()
  }

  shed(): void {
    this.#shed.inc()
  }

  refused(reason: RefusalReason): void {
    this.#refused.labels(reason).inc()
  }

  webhookFailure(outcome: 'failed' | 'dropped'): void {
    this.#webhookFailures.labels(outcome).inc()
  }

  authFailure(): void {
    this.#authFailures.inc()
  }

  /** issue 13: n shadow copies' outcome (n > 1: a worker's batch). */
  shadow(outcome: (typeof SHADOW_OUTCOME_LABELS)[number], n = 1): void {
    this.#shadow.labels(outcome).inc(n)
  }

  /** issue 13: n shadow copies dropped for reason (n > 1: a worker's batch). */
  shadowDropped(reason: DropReason, n = 1): void {
    this.#shadowDropped.labels(reason).inc(n)
  }

  /** issue 13: a config drift (counted from the drift event). */
  drift(kind: (typeof DRIFT_KINDS)[number]): void {
    this.#drift.labels(kind).inc()
  }

  /** Fleet: a change written by another replica was applied here, ms after it was written. */
  propagated(ms: number): void {
    this.#propagation.observe(ms / 1000)
  }

  /** The text exposition for /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  attemptFailed(node: UpstreamNode, kind: FailureKind): void {
    const children = this.#errorChildren.get(node)
    if (children) children[kind].inc()
    else this.#upstreamErrors.labels(node.pool, node.name, kind).inc()
  }

  finished(pool: PoolName, status: number, ms: number, protocol?: Protocol, grpc?: number): void {
    const cls = (status / 100) | 0
    this.#pending[pool][cls >= 1 && cls <= 5 ? cls : 5]++
    this.#pendingProtocol[pool][protocol === 'h2' ? 1 : 0]++
    if (grpc !== undefined && grpc >= 0 && grpc < GRPC_CODES.length) this.#pendingGrpc[pool][grpc]++
    this.#duration.observe(POOL_INDEX[pool], ms / 1000)
  }
}
