/**
 * The drift shell: reads every node's configuration_hash from Kong's status listener
 * (GET /status over http or https on drift.port, else the readiness probes' port, else the
 * node's own; a pool's own scheme, port or path under drift.x / drift.y) each
 * drift.interval, and hands each reading to drift.ts. A drift is an event, a metric and
 * drift.action (pause the rollout, or roll back), once per drift.
 */

import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { DriftConfig } from '../config/analysis.js'
import { POOLS } from '../config/types.js'
import { trip } from '../analysis/act.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { Upstreams } from '../upstream/upstreams.js'
import { undici } from '../undici-on-demand.js'
import { type Drift, driftKey, findDrifts, knownHash, type NodeHash, startRefusal } from './drift.js'

const { readFileSync } = process.getBuiltinModule('node:fs')

/** Kong's status answers are small; more than this is not one */
const MAX_STATUS_BODY = 64 * 1024

export interface HashWatcherOptions {
  config: DriftConfig
  /** health.active.port: Kong's status listener, where the readiness probes go */
  probePort?: number
  upstreams: Upstreams
  state: StateController
  events: EventLog
  clock: Clock
  logger: Logger
  onDrift?: (drift: Drift) => void
}

interface Reading {
  hash: string | null
  /** ISO time of the last answer with a hash */
  at: string | null
  error: string | null
}

export class HashWatcher {
  #config: DriftConfig
  #probePort: number | undefined
  readonly #upstreams: Upstreams
  readonly #state: StateController
  readonly #events: EventLog
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #onDrift: ((drift: Drift) => void) | undefined
  readonly #readings = new Map<UpstreamNode, Reading>()
  #last: NodeHash[] = []
  /** drifts said and acted on, so one that persists is said once */
  #reported = new Set<string>()
  #timer: TimerHandle | null = null
  #stopped = true
  /** the client for https status listeners under drift.tls (a CA, or no verification); undefined: undici's default */
  /** the TLS client for https status reads, made on the first such read (undici loads on demand) */
  #tls: Dispatcher | undefined
  /** drift.tls's settings, read from the CA file when set */
  #tlsOptions: { ca: Buffer | undefined; rejectUnauthorized: boolean } | undefined
  /** why drift.tls could not be used (its CA file became unreadable): every https read fails with it */
  #tlsError: string | null = null

  constructor(options: HashWatcherOptions) {
    this.#config = options.config
    this.#probePort = options.probePort
    this.#upstreams = options.upstreams
    this.#state = options.state
    this.#events = options.events
    this.#clock = options.clock
    this.#logger = options.logger
    this.#onDrift = options.onDrift
    this.#setTls(options.config.tls)
  }

  configure(config: DriftConfig, probePort: number | undefined): void {
    const tls = config.tls
    const before = this.#config.tls
    this.#config = config
    this.#probePort = probePort
    if (tls?.ca !== before?.ca || tls?.insecure !== before?.insecure) this.#setTls(tls)
  }

  #setTls(tls: DriftConfig['tls']): void {
    void this.#tls?.close()
    this.#tls = undefined
    this.#tlsOptions = undefined
    this.#tlsError = null
    if (tls === undefined) return
    try {
      const ca = tls.ca === undefined ? undefined : readFileSync(tls.ca)
      this.#tlsOptions = { ca, rejectUnauthorized: !tls.insecure }
    } catch (err) {
      this.#tlsError = `cannot read drift.tls.ca ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? 'error'})`
      this.#logger.error({ err }, this.#tlsError)
    }
  }

  /** Where a node's status listener answers: its pool's settings, else drift's, else the probes', else the node's. */
  statusUrl(node: UpstreamNode): string {
    const c = this.#config
    const own = c[node.pool]
    const scheme = own?.scheme ?? c.scheme
    const port = own?.port ?? c.port ?? this.#probePort ?? node.config.port
    const host = node.config.hostname.includes(':') ? `[${node.config.hostname}]` : node.config.hostname
    return `${scheme}://${host}:${port}${own?.path ?? c.path}`
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    if (this.#tls === undefined && this.#tlsError === null) this.#setTls(this.#config.tls)
    void this.#round()
  }

  stop(): void {
    this.#stopped = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    void this.#tls?.close()
    this.#tls = undefined
  }

  /** The last configuration_hash of a node, for /v1/state (null: none read). */
  hashOf(node: UpstreamNode): string | null {
    return this.#readings.get(node)?.hash ?? null
  }

  /** Why the last read of a node's hash failed (the error, or what the status listener answered); null when it succeeded or none was made. */
  readErrorOf(node: UpstreamNode): string | null {
    return this.#readings.get(node)?.error ?? null
  }

  hashes(): NodeHash[] {
    const out: NodeHash[] = []
    for (const pool of POOLS) for (const node of this.#upstreams.nodes[pool]) out.push({ pool, node: node.name, hash: this.hashOf(node) })
    return out
  }

  /** Why a rollout may not start now (x and y disagree), or null. */
  startRefusal(): string | null {
    return startRefusal(this.hashes())
  }

  /** Read every node once, then judge the reading; exposed for tests. */
  async round(): Promise<Drift[]> {
    const nodes = POOLS.flatMap((p) => this.#upstreams.nodes[p])
    await Promise.all(nodes.map((n) => this.#read(n)))
    const next = this.hashes()
    const s = this.#state.current
    const watching = s.rollout !== null || (s.y > 0 && s.y < 100)
    const drifts = findDrifts(this.#last, next, watching)
    this.#last = next
    const keys = new Set(drifts.map(driftKey))
    const fresh = drifts.filter((d) => !this.#reported.has(driftKey(d)))
    // a disagreement that ended may come back: said again then
    this.#reported = keys
    for (const d of fresh) await this.#drifted(d)
    return fresh
  }

  #round = async (): Promise<void> => {
    try {
      await this.round()
    } catch (err) {
      this.#logger.error({ err }, 'config drift check failed')
    }
    if (!this.#stopped) this.#timer = this.#clock.setTimeout(() => void this.#round(), this.#config.interval)
  }

  async #drifted(d: Drift): Promise<void> {
    const action = this.#config.action
    const { reason, ...details } = d
    this.#events.add('config.drift', { cause: 'gate', ...details, action, reason })
    this.#logger.warn({ ...details, action }, reason)
    this.#onDrift?.(d)
    try {
      await trip(this.#state, action, reason, { drift: d.kind })
    } catch (err) {
      this.#logger.error({ err }, `config drift: ${action} failed`)
    }
  }

  async #read(node: UpstreamNode): Promise<void> {
    const url = this.statusUrl(node)
    const reading: Reading = this.#readings.get(node) ?? { hash: null, at: null, error: null }
    this.#readings.set(node, reading)
    try {
      const https = url.startsWith('https:')
      if (https && this.#tlsError !== null) throw new Error(this.#tlsError)
      const { Agent, request } = await undici()
      if (https && this.#tlsOptions !== undefined) this.#tls ??= new Agent({ connect: this.#tlsOptions })
      const res = await request(url, { method: 'GET', signal: AbortSignal.timeout(this.#config.timeout), ...(https && this.#tls !== undefined && { dispatcher: this.#tls }) })
      const text = await readBounded(res.body, MAX_STATUS_BODY)
      if (res.statusCode !== 200) throw new Error(`status listener answered ${res.statusCode}`)
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new Error('status listener answered something other than JSON')
      }
      const raw = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).configuration_hash : undefined
      if (raw === undefined) throw new Error('no configuration_hash in /status (a DB-backed node, or not Kong)')
      reading.hash = knownHash(raw)
      reading.at = new Date(this.#clock.now()).toISOString()
      reading.error = null
    } catch (err) {
      // the last hash read stays: a node that does not answer has not changed its config
      reading.error = (err as Error).message
    }
  }
}

async function readBounded(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const parts: Buffer[] = []
  let length = 0
  for await (const chunk of body) {
    length += chunk.length
    if (length > max) throw new Error(`status answer longer than ${max} bytes`)
    parts.push(chunk)
  }
  return Buffer.concat(parts).toString('utf8')
}
