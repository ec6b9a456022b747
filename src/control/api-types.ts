/**
 * The control API's answers as types: one contract for the server that builds them, `ctl`
 * that prints them and the console (src/console/assets/*.js imports these in JSDoc).
 * Self-contained on purpose: no imports, so the browser's type-check needs nothing of
 * Node's. The server's describe() is declared to return StateView, so the compiler holds
 * the implementation to it; extend here first, rename nothing (SPEC section 3).
 */

export type PoolName = 'x' | 'y'
export type Verdict = 'pass' | 'fail' | 'none'

/** A node of a pool, as GET /v1/state shows it. */
export interface NodeView {
  url: string
  /** the configured `name`, else host:port */
  name: string
  /** the probes' verdict: true healthy, false unhealthy, null none yet */
  healthy: boolean | null
  ejected: boolean
  ejected_until: string | null
  /** issue 12, a node with an h2 address: its h2 listener ejected on its own (its url keeps serving) */
  h2_ejected?: boolean
  h2_ejected_until?: string | null
  last_probe: { ok: boolean; at: string; ms: number; status?: number; error?: string } | null
  /** why a request's attempt on the node last failed, as the log says it (at most every 10 s per failure); null: none since start or reload */
  last_failure: { kind: 'connect' | 'reset' | 'timeout' | 'protocol'; why: string; at: string } | null
  inflight: number
  /** an operator's admin state (issue 14): ready, drain (no new requests), maint (no traffic, no probes) */
  admin: 'ready' | 'drain' | 'maint'
  /** the weight routing uses */
  weight: number
  /** runtime: set through PUT /v1/nodes and kept over reloads until reset; config: the config's */
  weight_source: 'runtime' | 'config'
  config_weight: number
  /** issue 13: the node's Kong configuration_hash from its status listener (null: not read); absent when drift is off */
  config_hash?: string | null
  /** issue 13: why the last read of config_hash failed (the error, or the status listener's answer: `status listener answered 503`); null when it succeeded; absent when drift is off */
  config_hash_error?: string | null
}

/** One pool's figures in the gates' sliding window. */
export interface WindowView {
  requests: number
  errors: number
  /** errors / requests; 0 without requests */
  error_rate: number
  /** 0 without latencies */
  p99_ms: number
}

export interface GateCheckView {
  gate: string
  /** what was measured: y's error rate, y minus x, y's p99 in ms */
  figure: number
  limit: number
  verdict: Verdict
  /** the figures in words, e.g. `error_rate 0.083 > 0.01 over 412 requests (95% lower bound 0.06)` */
  detail: string
}

export interface GatesView {
  x: WindowView
  y: WindowView
  verdict: Verdict
  checks: GateCheckView[]
  /** ISO time of the last evaluation; null before the first */
  evaluated_at: string | null
}

export interface RolloutStepView {
  /** share of y */
  y: number
  /** ms */
  hold: number
}

/** What a step waits for when its hold is over but y's traffic is short. */
export interface WaitingView {
  requests: number
  needed: number
  /** at y's rate in the step so far; null when y has had none */
  eta_ms: number | null
}

export interface RolloutView {
  steps: RolloutStepView[]
  /** index into steps, from 0; people count from 1 */
  step: number
  status: 'running' | 'paused'
  y: number
  hold_left_ms: number
  /** why a step whose hold is over does not move on, as a sentence; null otherwise */
  holding: string | null
  waiting: WaitingView | null
  started_at: string
}

/** issue 11: a node as one replica of a fleet sees it (health is judged per replica). */
export interface NodeSeenView {
  pool: PoolName
  name: string
  usable: boolean
}

/** issue 11: one replica of a fleet, as this replica last heard from it. */
export interface ReplicaView {
  id: string
  /** its control listener, host:port */
  control: string
  started_at: string
  /** ISO time this replica last heard from it */
  last_seen: string
  leader: boolean
  /** requests and errors per pool since that replica started */
  traffic: Record<PoolName, { requests: number; errors: number }>
  /** the nodes as that replica sees them */
  nodes: NodeSeenView[]
}

/** issue 11: the fleet section of GET /v1/state, present with state.backend etcd. */
export interface FleetView {
  /** the replica that answered */
  replica_id: string
  /** the replica that leads; null while none does */
  leader: string | null
  leading: boolean
  backend: { kind: 'etcd'; up: boolean; reason: string | null; since: string }
  replicas: ReplicaView[]
  /** the gates over the fleet's summed traffic (the leader's verdict is the one acted on) */
  gates: { x: WindowView; y: WindowView; replicas: number; verdict: Verdict; reason: string | null; checks: GateCheckView[]; evaluated_at: string | null; evaluated_by: string | null }
}

/** GET /v1/state, and the answer of every change (PUT /v1/split, POST /v1/rollback, ...). */
export interface StateView {
  split: { x: number; y: number }
  locked: boolean
  lock_reason: string | null
  rollout: RolloutView | null
  pools: Record<PoolName, { nodes: NodeView[] }>
  gates: GatesView
  /** issue 13: config drift, PromQL gates and the last step hook */
  analysis?: AnalysisStateView
  /** issue 11: every replica of a fleet; absent with the file backend */
  fleet?: FleetView
}

/** issue 13: GET /v1/shadow, y's answers to copies of x's requests compared with x's. */
export interface ShadowView {
  enabled: boolean
  share: number
  totals: { match: number; mismatch: number; error: number; dropped: number }
  /** the dropped total by reason (absent when shadow is off) */
  dropped_reasons?: Record<'busy' | 'no_y_node' | 'timeout' | 'x_aborted' | 'body_too_large' | 'x_failed', number>
  /** mismatch / (match + mismatch); null before anything was compared */
  mismatch_rate: number | null
  classes: Array<{
    method: string
    /** the path with ids as :id */
    route: string
    x_status: number
    y_status: number
    count: number
    differences: string[]
    samples: Array<{ at: string; target: string; headers: Record<string, string>; differences: string[] }>
  }>
  other_mismatches: number
}

/** issue 13: what /v1/state shows of drift, PromQL gates and step hooks. */
export interface AnalysisStateView {
  drift: boolean
  /** why a rollout may not start now (x and y serve different configs), or null */
  drift_refusal: string | null
  prom_gates: Array<{ gate: string; verdict: Verdict; value: number | null; threshold: string; detail: string }>
  last_hook: { phase: 'before_step' | 'after_hold'; step: number; ok: boolean; reason: string | null; at: string } | null
}

/** One entry of GET /v1/events: its details depend on the type. */
export interface EventView {
  id: number
  at: string
  type: string
  cause?: string
  /** the event as one sentence (src/notify/event-text.ts) */
  text?: string
  [detail: string]: unknown
}

/** A 5 s slot of GET /v1/history. */
export interface HistoryPointView {
  /** ms epoch of the slot's start */
  t: number
  requests_per_s: number
  /** null when the slot saw no request */
  error_rate: number | null
  p99_ms: number | null
}

/** GET /v1/history: per pool, 15 minutes of 5 s slots, oldest first. */
export interface HistoryView {
  slot_ms: number
  /** ms epoch of the snapshot */
  now: number
  pools: Record<PoolName, HistoryPointView[]>
}

/** Every error answer of the control API. */
export interface ErrorView {
  error: string
  code: string
}
