/**
 * One replica's part in a fleet (issue 11). Every second it publishes, under its lease,
 * its address and its own traffic (per-second buckets); it watches every replica's, so
 * each one knows the fleet's summed gate window. A gatekeeper of its own judges that sum,
 * spans included, on the single cutover's path (gates/gatekeeper.ts); only the elected
 * leader's acts (rollback or pause, through the shared state: every replica follows);
 * the rollout runner reads the fleet's figures through gateView() and only the
 * leader's runner takes over a rollout (its hold afresh). Events raised here are shared
 * under `<prefix>/events/`, and other replicas' events are added to the local log.
 */

import { Range } from 'etcd3'
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { Config, HostPort } from '../config/types.js'
import type { FleetView, NodeSeenView, ReplicaView } from '../control/api-types.js'
import { Gatekeeper } from '../gates/gatekeeper.js'
import type { GateSource } from '../gates/gate-source.js'
import type { StateController } from '../state/controller.js'
import type { CutoverEvent, EventLog } from '../state/events.js'
import type { EtcdConnection, KeptWatch } from './etcd-connection.js'
import { Election } from './election.js'
import { FleetWindow } from './fleet-window.js'
import { BUCKET_MS, parseBuckets, TrafficRecorder, type TrafficBucket } from './traffic-buckets.js'

export const PUBLISH_EVERY_MS = 1000
/** events kept in etcd; the leader deletes older ones */
export const EVENTS_KEPT = 1000
const PRUNE_EVERY_MS = 60_000
const RECORD_VERSION = 1
/** A shared event larger than this is refused: cutover's own are a few KB; a bigger value is broken or hostile (each one is kept, logged and sent on). */
export const MAX_SHARED_EVENT_BYTES = 64 * 1024

export interface ReplicaRecord {
  v: number
  id: string
  /** the control listener, host:port */
  control: string
  started_at: string
  totals: { x: { requests: number; errors: number }; y: { requests: number; errors: number } }
  buckets: TrafficBucket[]
  /**
   * the publisher's bucket time when it published (its clock / BUCKET_MS): a replica whose
   * clock is off by seconds has its buckets moved onto the reader's clock. Absent in
   * records of older versions (taken as they are).
   */
  at?: number
  /** each node as this replica's own probes and passive checks see it */
  nodes?: NodeSeen[]
}

export type NodeSeen = NodeSeenView

export interface FleetOptions {
  conn: EtcdConnection
  replicaId: string
  ttlSeconds: number
  gates: Config['gates']
  state: StateController
  events: EventLog
  clock: Clock
  logger: Logger
  /** this replica now leads and a rollout is stored: continue it (hold afresh) */
  takeOverRollout: () => void
  /** the nodes as this replica sees them, published with its traffic */
  nodes?: () => NodeSeen[]
  onLeading?: (leading: boolean) => void
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** Validate a replica record read from etcd: the record, or what is wrong with it. */
export function parseReplicaRecord(data: unknown): ReplicaRecord | string {
  if (!isObject(data)) return 'not a JSON object'
  if (data.v !== RECORD_VERSION) return `v: expected ${RECORD_VERSION}`
  if (typeof data.id !== 'string' || data.id.length === 0 || data.id.length > 128) return 'id: not a replica name'
  if (typeof data.control !== 'string' || data.control.length > 300) return 'control: not an address'
  if (typeof data.started_at !== 'string' || Number.isNaN(Date.parse(data.started_at))) return 'started_at: not an ISO time'
  const t = data.totals
  if (!isObject(t) || !isObject(t.x) || !isObject(t.y) || !isCount(t.x.requests) || !isCount(t.x.errors) || !isCount(t.y.requests) || !isCount(t.y.errors))
    return 'totals: not request and error counts per pool'
  const buckets = parseBuckets(data.buckets)
  if (typeof buckets === 'string') return buckets
  if (data.at !== undefined && !isCount(data.at)) return 'at: not a bucket time'
  const totals = { x: { requests: t.x.requests, errors: t.x.errors }, y: { requests: t.y.requests, errors: t.y.errors } }
  const nodes: NodeSeen[] = []
  if (data.nodes !== undefined) {
    if (!Array.isArray(data.nodes) || data.nodes.length > 1000) return 'nodes: not a list'
    for (const n of data.nodes) {
      if (!isObject(n) || (n.pool !== 'x' && n.pool !== 'y') || typeof n.name !== 'string' || n.name.length > 300 || typeof n.usable !== 'boolean') return 'nodes: not a list of { pool, name, usable }'
      nodes.push({ pool: n.pool, name: n.name, usable: n.usable })
    }
  }
  return { v: RECORD_VERSION, id: data.id, control: data.control, started_at: data.started_at, totals, buckets, nodes, ...(data.at !== undefined && { at: data.at as number }) }
}

export interface FleetGateOptions extends Pick<FleetOptions, 'replicaId' | 'gates' | 'state' | 'events' | 'clock' | 'logger'> {
  window: FleetWindow
  /** this replica's own traffic as it publishes it; reset with the window when y starts afresh */
  recorder: TrafficRecorder
  leading: () => boolean
  /** replicas seen alive */
  replicas: () => number
}

/**
 * The fleet's gatekeeper: the single cutover's, judging the fleet's summed window (its
 * spans included) instead of one replica's, and acting only while this replica leads.
 */
export function fleetGatekeeper(o: FleetGateOptions): Gatekeeper {
  const { window, recorder, clock } = o
  const source: GateSource = {
    figures: (slowMs) => window.figures(clock.now(), slowMs),
    resetY: () => {
      recorder.resetY()
      window.resetY(clock.now())
    },
    setWindow: (ms) => window.setWindow(ms, clock.now()),
  }
  return new Gatekeeper({
    gates: o.gates,
    state: o.state,
    events: o.events,
    clock,
    logger: o.logger,
    source,
    mayAct: o.leading,
    scope: () => {
      const n = o.replicas()
      return { label: `over the fleet's traffic (${n} replica${n === 1 ? '' : 's'})`, details: { leader: o.replicaId, replicas: n } }
    },
  })
}

export class Fleet {
  readonly recorder: TrafficRecorder
  readonly #conn: EtcdConnection
  readonly #id: string
  readonly #state: StateController
  readonly #events: EventLog
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #options: FleetOptions
  readonly #election: Election
  readonly #window: FleetWindow
  readonly #startedAt: string
  #gates: Config['gates']
  #control = ''
  #replicas = new Map<string, { record: ReplicaRecord; seenAt: number }>()
  /** the fleet's y requests, summed from every replica's totals, counter restarts included */
  #yTotal = 0
  readonly #lastY = new Map<string, number>()
  /** judges the fleet's summed window; acts only while this replica leads */
  readonly #gate: Gatekeeper
  #timer: TimerHandle | null = null
  #watchers: KeptWatch[] = []
  #unsubscribe: Array<() => void> = []
  #eventQueue: CutoverEvent[] = []
  #lastPrune = -Infinity
  #stopped = false

  constructor(options: FleetOptions) {
    this.#options = options
    this.#conn = options.conn
    this.#id = options.replicaId
    this.#state = options.state
    this.#events = options.events
    this.#clock = options.clock
    this.#logger = options.logger
    this.#gates = options.gates
    this.#startedAt = new Date(options.clock.now()).toISOString()
    this.recorder = new TrafficRecorder(options.clock)
    this.#window = new FleetWindow(options.gates.window, options.clock.now())
    this.#gate = fleetGatekeeper({ ...options, window: this.#window, recorder: this.recorder, leading: () => this.leading, replicas: () => this.#replicas.size })
    this.#election = new Election({
      conn: options.conn,
      replicaId: options.replicaId,
      ttlSeconds: options.ttlSeconds,
      clock: options.clock,
      logger: options.logger,
      onLeading: (leading) => this.#leadingChanged(leading),
    })
  }

  get replicaId(): string {
    return this.#id
  }

  get leading(): boolean {
    return this.#election.leading
  }

  get leader(): string | null {
    return this.#election.leader
  }

  /** What the rollout runner reads instead of one replica's gatekeeper: the fleet's figures and verdict. */
  gateView(): Pick<Gatekeeper, 'yRequestsTotal' | 'verdict'> {
    return {
      yRequestsTotal: () => this.#yTotal,
      verdict: () => this.#gate.verdict(),
    }
  }

  /** New gate limits on reload. */
  configure(gates: Config['gates']): void {
    this.#gates = gates
    this.#gate.configure(gates)
  }

  /** Start publishing and watching; `control` is this replica's control address. */
  async start(control: HostPort): Promise<void> {
    this.#control = `${control.host}:${control.port}`
    this.#gate.start()
    this.#unsubscribe.push(this.#events.subscribe((e) => this.#localEvent(e)))
    // watches connect in the background: with etcd away at start, when it is back
    const prefix = this.#conn.key('replicas', '')
    const replicas = this.#conn.keptWatch('replicas', (client) => client.watch().prefix(prefix).watcher(), {
      put: (kv) => this.#replicaPut(kv.key.toString('utf8'), kv.value),
      delete: (kv) => this.#replicaGone(kv.key.toString('utf8')),
      connected: () => void this.#loadReplicas().catch(() => undefined),
    })
    const events = this.#conn.keptWatch('events', (client) => client.watch().prefix(this.#conn.key('events', '')).watcher(), {
      put: (kv) => this.#remoteEvent(kv.key.toString('utf8'), kv.value),
    })
    this.#watchers.push(replicas, events)
    await this.#loadReplicas().catch(() => undefined)
    await this.#election.start().catch((err) => this.#logger.warn({ err }, 'fleet election not started yet; retried every second'))
    await this.#tick()
  }

  /** Stop: revoke the lease (leadership passes at once), or leave it to expire, as a crash would. */
  async stop(options: { revoke: boolean } = { revoke: true }): Promise<void> {
    this.#stopped = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    this.#gate.stop()
    for (const u of this.#unsubscribe) u()
    const watchers = this.#watchers
    this.#watchers = []
    await Promise.all(watchers.map((w) => w.cancel()))
    await this.#election.stop(options)
  }

  /** For /v1/state: this replica, the leader and every replica seen. */
  describe(): FleetView {
    const h = this.#conn.health
    const leader = this.#election.leader
    const replicas: ReplicaView[] = [...this.#replicas.values()]
      .map(({ record, seenAt }) => ({
        id: record.id,
        control: record.control,
        started_at: record.started_at,
        last_seen: new Date(seenAt).toISOString(),
        leader: record.id === leader,
        traffic: record.totals,
        nodes: record.nodes ?? [],
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
    const f = this.#window.figures(this.#clock.now(), this.#gates.max_p99_ms)
    const g = this.#gate.describe()
    return {
      replica_id: this.#id,
      leader,
      leading: this.leading,
      backend: { kind: 'etcd' as const, up: h.up, reason: h.reason, since: new Date(h.since).toISOString() },
      replicas,
      gates: { x: g.x, y: g.y, replicas: f.replicas, verdict: g.verdict, reason: this.#gate.verdict().reason, checks: g.checks, evaluated_at: g.evaluated_at, evaluated_by: leader },
    }
  }

  /** Replicas seen alive (their lease holds). */
  get replicaCount(): number {
    return this.#replicas.size
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), PUBLISH_EVERY_MS)
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return
    try {
      await this.#publish()
      await this.#election.tick()
      await this.#flushEvents()
      if (this.leading && this.#clock.now() - this.#lastPrune > PRUNE_EVERY_MS) await this.#pruneEvents()
    } catch (err) {
      this.#logger.debug({ err }, 'fleet tick incomplete; tried again in a second')
    } finally {
      this.#schedule()
    }
  }

  async #publish(): Promise<void> {
    const lease = await this.#election.leaseId()
    const record: ReplicaRecord = {
      v: RECORD_VERSION,
      id: this.#id,
      control: this.#control,
      started_at: this.#startedAt,
      totals: this.recorder.totals,
      buckets: this.recorder.recent(),
      at: Math.floor(this.#clock.now() / BUCKET_MS),
      nodes: this.#options.nodes?.() ?? [],
    }
    // our own record counts at once, without waiting for the watch
    this.#replicaSeen(record)
    if (lease === null) return
    await this.#conn.call('publish replica', (o) => this.#conn.client.put(this.#conn.key('replicas', this.#id)).value(JSON.stringify(record)).lease(lease).options(o).exec())
  }

  /** Read every replica record again; one no longer there is gone (its lease ran out while the watch was away). */
  async #loadReplicas(): Promise<void> {
    const prefix = this.#conn.key('replicas', '')
    const res = await this.#conn.call('read replicas', (o) => this.#conn.client.getAll().prefix(prefix).options(o).exec())
    const present = new Set<string>()
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8')
      present.add(key.slice(prefix.length))
      this.#replicaPut(key, kv.value)
    }
    for (const id of this.#replicas.keys()) if (id !== this.#id && !present.has(id)) this.#replicas.delete(id)
  }

  #replicaGone(key: string): void {
    const id = key.slice(this.#conn.key('replicas', '').length)
    if (id !== this.#id) this.#replicas.delete(id)
  }

  #invalidReplicas = new Set<string>()
  #replicaPut(key: string, value: Buffer): void {
    let parsed: ReplicaRecord | string
    try {
      parsed = parseReplicaRecord(JSON.parse(value.toString('utf8')))
    } catch (err) {
      parsed = `not JSON: ${(err as Error).message}`
    }
    // a record is its own replica's: one claiming another's id would count as (or over) that one
    if (typeof parsed !== 'string' && key !== this.#conn.key('replicas', parsed.id)) parsed = `id: ${JSON.stringify(parsed.id)} is not the replica its key names`
    if (typeof parsed === 'string') {
      // refused, never counted; said once per key until it is valid again
      if (!this.#invalidReplicas.has(key)) {
        this.#invalidReplicas.add(key)
        this.#logger.error({ key, reason: parsed }, 'replica record refused: unusable value in etcd')
        this.#events.add('fleet.invalid', { cause: 'fleet', key, reason: `refused a replica record: ${parsed}`, local: true })
      }
      return
    }
    this.#invalidReplicas.delete(key)
    if (parsed.id === this.#id) return
    this.#replicaSeen(parsed)
  }

  #replicaSeen(record: ReplicaRecord): void {
    const now = this.#clock.now()
    this.#replicas.set(record.id, { record, seenAt: now })
    this.#window.put(record.id, this.#onOurClock(record, now), now)
    const y = record.totals.y.requests
    const last = this.#lastY.get(record.id)
    // a restarted replica counts from 0 again: its new count is all new requests
    this.#yTotal += last === undefined ? 0 : y >= last ? y - last : y
    this.#lastY.set(record.id, y)
  }

  /** by replica: seconds its buckets are moved by (its clock's offset from this one's, when 2 s or more) */
  readonly #skew = new Map<string, number>()

  /**
   * A replica's buckets on this replica's clock: with clocks seconds apart, the window
   * (judged on this clock) would count another's buckets too long or never at all. The
   * offset moves only by 2 s or more, so the second a record takes to arrive does not
   * move a bucket to another second (it would be counted twice).
   */
  #onOurClock(record: ReplicaRecord, now: number): TrafficBucket[] {
    if (record.id === this.#id || record.at === undefined) return record.buckets
    const measured = Math.floor(now / BUCKET_MS) - record.at
    let skew = this.#skew.get(record.id) ?? 0
    if (Math.abs(measured - skew) >= 2) {
      skew = measured
      this.#skew.set(record.id, skew)
      this.#logger.warn({ replica: record.id, seconds: skew }, "a replica's clock differs from this one's: its traffic is counted on this replica's clock")
    }
    if (skew === 0) return record.buckets
    return record.buckets.map((b) => ({ ...b, t: b.t + skew })).filter((b) => b.t >= 0)
  }

  #leadingChanged(leading: boolean): void {
    this.#options.onLeading?.(leading)
    if (this.#stopped) return
    const r = this.#state.current.rollout
    this.#events.add('fleet.leader', {
      cause: 'fleet',
      leading,
      reason: leading ? `${this.#id} leads the fleet${r ? `: the rollout goes on at step ${r.step + 1} of ${r.steps.length}, its hold started afresh` : ''}` : `${this.#id} no longer leads the fleet`,
    })
    if (leading && r !== null) this.#options.takeOverRollout()
  }

  // --- events shared through etcd

  #localEvent(e: CutoverEvent): void {
    // `replica` marks an event another replica raised (added here from etcd); `local` one about this replica only
    if (e.replica !== undefined || e.local === true) return
    this.#eventQueue.push(e)
    if (this.#eventQueue.length > EVENTS_KEPT) this.#eventQueue.shift()
    void this.#flushEvents()
  }

  #flushing = false
  async #flushEvents(): Promise<void> {
    if (this.#flushing || this.#eventQueue.length === 0) return
    this.#flushing = true
    try {
      while (this.#eventQueue.length > 0) {
        const e = this.#eventQueue[0]
        const key = this.#conn.key('events', `${String(Date.parse(e.at)).padStart(14, '0')}-${this.#id}-${String(e.id).padStart(8, '0')}`)
        await this.#conn.call('share event', (o) =>
          this.#conn.client
            .put(key)
            .value(JSON.stringify({ ...e, replica: this.#id }))
            .options(o)
            .exec(),
        )
        this.#eventQueue.shift()
      }
    } catch {
      // kept in the queue; the next tick tries again
    } finally {
      this.#flushing = false
    }
  }

  #remoteEvent(key: string, value: Buffer): void {
    if (value.length > MAX_SHARED_EVENT_BYTES) {
      const reason = `refused a shared event: ${value.length} bytes, more than ${MAX_SHARED_EVENT_BYTES}`
      this.#logger.error({ key, bytes: value.length }, 'shared event refused: too large')
      this.#events.add('fleet.invalid', { cause: 'fleet', key: key.slice(0, 300), reason, local: true })
      return
    }
    let e: unknown
    try {
      e = JSON.parse(value.toString('utf8'))
    } catch {
      return
    }
    if (!isObject(e) || typeof e.type !== 'string' || typeof e.replica !== 'string' || e.replica === this.#id || e.type.length > 100) return
    const { id, at, type, ...details } = e
    this.#events.add(type, { ...details, remote_id: id, remote_at: at })
  }

  async #pruneEvents(): Promise<void> {
    this.#lastPrune = this.#clock.now()
    const prefix = this.#conn.key('events', '')
    const keys: string[] = await this.#conn.call('list events', (o) => this.#conn.client.getAll().prefix(prefix).options(o).keys())
    if (keys.length <= EVENTS_KEPT) return
    keys.sort()
    const cut = keys[keys.length - EVENTS_KEPT]
    await this.#conn.call('prune events', (o) => this.#conn.client.delete().range(new Range(prefix, cut)).options(o).exec())
  }
}
