/**
 * The shadow shell: samples x's requests (shadow.share, its methods; a body only up to
 * shadow.max_body_bytes, buffered as it goes to x), sends a copy to a y node through its
 * own lean client (y-client.ts: connections apart from the engine's node pools, so a slow
 * y never holds a connection real traffic needs), and compares the answers once both are
 * whole. Its own concurrency cap and time limit: past them a copy is dropped and counted,
 * never waited for. The time limit bounds y's answer (from the copy sent until y's answer is
 * whole), never x's: a long download x streams is compared once whole. It is one sweep over
 * the copies on their way (no timer and no AbortSignal per copy): a slow y costs the live
 * requests as little as it can.
 */

import type { IncomingHttpHeaders } from 'node:http2'
import type { Logger } from 'pino'
import type { Clock, Random, TimerHandle } from '../clock.js'
import type { ShadowConfig } from '../config/analysis.js'
import { namedHops } from '../forwarding/headers.js'
import type { RequestHead } from '../http1/index.js'
import type { Router } from '../routing/table.js'
import type { UpstreamNode } from '../upstream/node.js'
import { BodyDigest, headerOf, isDecodable, isJsonType } from './body-digest.js'
import type { CompareOptions, Comparison, ShadowAnswer } from './compare.js'
import { Judge } from './judge.js'
import type { DropReason, ShadowRecorder } from './results.js'
import { routePattern } from './route-pattern.js'
import type { ShadowCopy, ShadowTap } from './tap.js'
import { YClient, type YReceiver, type YRequestHandle } from './y-client.js'

/** the deadline sweep's beat: a tenth of the time limit, between 10 and 100 ms */
export function sweepMs(timeout: number): number {
  return Math.min(100, Math.max(10, Math.floor(timeout / 10)))
}

/** request headers never sent on (hop-by-hop, or the client's to set) */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
])

/** What a copy needs of the client's request, from an HTTP/1 head or an h2 stream's headers. */
export interface CopyRequest {
  method: string
  /** origin or absolute form */
  target: string
  /** flat [name, value, ...] as the client sent them (h2: Host from :authority) */
  headers: readonly string[]
  /** a body will be fed (requestBody / requestEnd) */
  body: boolean
}

export interface ShadowerOptions {
  config: ShadowConfig
  results: ShadowRecorder
  /** the data plane's routing table: y's usable nodes */
  router: Router
  clock: Clock
  random: Random
  logger: Logger
  /** the proxy listener speaks TLS: X-Forwarded-Proto https */
  https: boolean
}

export class Shadower implements ShadowTap {
  #config: ShadowConfig
  #methods: ReadonlySet<string>
  #basisPoints: number
  #compare: CompareOptions
  readonly results: ShadowRecorder
  readonly #router: Router
  readonly clock: Clock
  readonly #random: Random
  readonly logger: Logger
  readonly #https: boolean
  /** the copies' own client */
  readonly #client: YClient
  /** the comparisons, a slice of the event loop's turn at a time */
  readonly #judge: Judge
  /** copies with a slot (x answered), by their deadline's sweep */
  readonly #timed = new Set<Copy>()
  #sweep: TimerHandle | null = null
  #closed = false
  #next = 0
  /** shadow requests on their way now */
  inflight = 0
  /** copies holding a request body they buffer, not yet sent (bounded by max_concurrent too) */
  buffering = 0

  constructor(options: ShadowerOptions) {
    this.results = options.results
    this.#router = options.router
    this.clock = options.clock
    this.#random = options.random
    this.logger = options.logger
    this.#https = options.https
    this.#config = options.config
    this.#methods = new Set()
    this.#basisPoints = 0
    this.#compare = { ignoreHeaders: new Set(), ignoreFields: [] }
    this.#client = new YClient(
      () => this.#config.max_concurrent,
      () => this.clock.monotonic(),
    )
    this.#judge = new Judge(options.clock)
    this.configure(options.config)
  }

  /** A reloaded shadow section (a new cap or time limit holds from the next copy). */
  configure(config: ShadowConfig): void {
    this.#config = config
    this.#methods = new Set(config.methods)
    this.#basisPoints = Math.round(config.share * 100)
    this.#compare = { ignoreHeaders: new Set(config.ignore_headers), ignoreFields: config.ignore_fields, jsonMax: config.json_max }
    this.results.configure(config.share, config.redact_headers)
  }

  get config(): ShadowConfig {
    return this.#config
  }

  pick(head: RequestHead): ShadowCopy | null {
    if (this.#basisPoints <= 0 || head.upgrade || !this.#methods.has(head.method) || !this.#sampled()) return null
    if (this.#full()) return null
    const framing = head.framing
    if (framing.kind === 'length' && framing.length > this.#config.max_body_bytes) {
      this.results.drop('body_too_large')
      return null
    }
    return this.#copy({ method: head.method, target: head.target, headers: head.headers, body: framing.kind !== 'none' })
  }

  pickStream(headers: IncomingHttpHeaders, ended: boolean): ShadowCopy | null {
    const method = headers[':method']
    if (this.#basisPoints <= 0 || typeof method !== 'string' || !this.#methods.has(method)) return null
    // gRPC calls are never copied: a streaming call cannot be told from a unary one here
    const type = headers['content-type']
    if (typeof type === 'string' && type.startsWith('application/grpc')) return null
    if (!this.#sampled() || this.#full()) return null
    if (Number(headers['content-length']) > this.#config.max_body_bytes) {
      this.results.drop('body_too_large')
      return null
    }
    const flat: string[] = []
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue
      if (Array.isArray(value)) for (const v of value) flat.push(name, v)
      else flat.push(name, String(value))
    }
    const authority = headers[':authority']
    if (headers.host === undefined && typeof authority === 'string') flat.push('host', authority)
    return this.#copy({ method, target: String(headers[':path'] ?? '/'), headers: flat, body: !ended })
  }

  #sampled(): boolean {
    return this.#random() * 10000 < this.#basisPoints
  }

  /** The cap is full already at the request head: dropped at once, no copy made. */
  #full(): boolean {
    if (this.inflight < this.#config.max_concurrent) return false
    this.results.drop('busy')
    return true
  }

  #copy(req: CopyRequest): ShadowCopy | null {
    if (req.body) {
      // a body held in memory: at most max_concurrent of them at max_body_bytes
      if (this.buffering >= this.#config.max_concurrent) {
        this.results.drop('busy')
        return null
      }
      this.buffering++
    }
    return new Copy(this, req)
  }

  /**
   * A slot, a y node and a deadline for a copy whose x answered; the reason when there is none.
   * The deadline bounds the wait for the request body here (x answered before it was whole);
   * once the copy goes to y it bounds y's answer instead (Copy: from sending to whole).
   */
  take(copy: Copy): UpstreamNode | DropReason | 'stopped' {
    if (this.#closed) return 'stopped'
    if (this.inflight >= this.#config.max_concurrent) return 'busy'
    const node = this.#pickY()
    if (node === undefined) return 'no_y_node'
    this.inflight++
    copy.deadline = this.clock.monotonic() + this.#config.timeout
    this.#timed.add(copy)
    this.#sweep ??= this.clock.setTimeout(this.#onSweep, sweepMs(this.#config.timeout))
    return node
  }

  /** idle connections of the copies' client (kept for the next copy) */
  get idleConnections(): number {
    return this.#client.idle
  }

  /** The copy's slot is free. */
  untake(copy: Copy): void {
    if (this.#timed.delete(copy)) this.inflight--
  }

  /** One beat: copies past their deadline dropped ('timeout'), idle connections closed. */
  #onSweep = (): void => {
    this.#sweep = null
    const now = this.clock.monotonic()
    for (const copy of this.#timed) if (copy.deadline <= now) copy.expire()
    this.#client.sweepIdle(now)
    if (!this.#closed && (this.#timed.size > 0 || this.#client.idle > 0)) this.#sweep = this.clock.setTimeout(this.#onSweep, sweepMs(this.#config.timeout))
  }

  /** The y request of a copy; its answer goes to receiver. */
  send(node: UpstreamNode, head: CopyRequest, body: Buffer | undefined, client: string, receiver: YReceiver): YRequestHandle | null {
    const out: string[] = []
    let xff: string | undefined
    let host: string | undefined
    const raw = head.headers
    const named = namedHops(raw)
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i].toLowerCase()
      if (name === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`
      if (HOP.has(name) || name === this.#config.header || (named?.includes(name) && name !== 'host')) continue
      if (name === 'host') host ??= raw[i + 1]
      out.push(raw[i], raw[i + 1])
    }
    // the X-Forwarded-* the engine sets for x (forwarding/headers.ts requestHeadEnd)
    out.push('x-forwarded-for', xff === undefined || xff === '' ? client : `${xff}, ${client}`, 'x-forwarded-proto', this.#https ? 'https' : 'http')
    if (host !== undefined) out.push('x-forwarded-host', host)
    out.push(this.#config.header, '1')
    if (body !== undefined) out.push('content-length', String(body.length))
    if (host === undefined) out.push('host', node.config.origin.slice(node.config.origin.indexOf('//') + 2))
    // as x got it: origin form, or OPTIONS' asterisk; an absolute form as its path
    const path = head.target.startsWith('/') || head.target === '*' ? head.target : pathOf(head.target)
    if (this.#closed) return null
    let text = `${head.method} ${path} HTTP/1.1\r\n`
    for (let i = 0; i < out.length; i += 2) text += `${out[i]}: ${out[i + 1]}\r\n`
    return this.#client.request(node.config, head.method, `${text}\r\n`, body, receiver)
  }

  /** A new JSON-aware digest of y's body. */
  digest(headers: readonly string[]): BodyDigest {
    return new BodyDigest(isJsonType(headerOf(headers, 'content-type')), this.#config.json_max, isDecodable(headers))
  }

  /**
   * Both answers are whole: compared (in this turn of the event loop or, for large JSON
   * bodies, over a few: judge.ts), then counted as a match or the mismatch filed under its
   * class. Until then the comparison holds a slot of max_concurrent (its bodies are in memory).
   */
  judge(head: CopyRequest, x: ShadowAnswer, y: ShadowAnswer): void {
    this.inflight++
    this.#judge.judge(x, y, head.method === 'HEAD' ? { ...this.#compare, head: true } : this.#compare, (c) => {
      this.inflight--
      if (c !== null && !this.#closed) this.#judged(head, x, y, c)
    })
  }

  /** comparisons waiting or under way */
  get judging(): number {
    return this.#judge.pending
  }

  #judged(head: CopyRequest, x: ShadowAnswer, y: ShadowAnswer, c: Comparison): void {
    if (c.match) {
      this.results.count('match')
      return
    }
    this.results.mismatch({
      method: head.method,
      route: routePattern(head.target),
      target: head.target,
      requestHeaders: head.headers,
      xStatus: x.status,
      yStatus: y.status,
      differences: c.differences,
    })
  }

  /**
   * Stop (shadowing switched off by a reload, or cutover stopping): copies on their way are
   * cut, and counted for nothing (y did not fail); copies whose x answers later are not sent.
   */
  async close(): Promise<void> {
    this.#closed = true
    this.clock.clearTimeout(this.#sweep)
    this.#sweep = null
    for (const copy of [...this.#timed]) copy.stop()
    this.#judge.close()
    this.#client.close()
  }

  /** y's usable nodes in turn (node weights are for real traffic; a copy is one request). */
  #pickY(): UpstreamNode | undefined {
    const nodes = this.#router.table.y.nodes
    if (nodes.length === 0) return undefined
    this.#next = (this.#next + 1) % nodes.length
    return nodes[this.#next]
  }
}

/**
 * y's body is read at most this far ahead of x's while x's answer is still coming (then
 * y's socket waits): a y streaming without end costs no more than x's answer does.
 */
const Y_AHEAD = 1024 * 1024

/**
 * y's body, not whole yet, is already longer than x's whole one and cannot compare equal:
 * by hash (x's is no JSON or compressed body kept, or y's is past json_max), where every
 * length counts. (A compressed body kept is compared decoded: its length does not decide.)
 */
function longer(y: BodyDigest, x: ShadowAnswer): boolean {
  return y.length > x.bodyLength && ((x.json === undefined && x.coded === undefined) || !y.keeping)
}

function pathOf(target: string): string {
  try {
    const u = new URL(target)
    return u.pathname + u.search
  } catch {
    return '/'
  }
}

/**
 * One request's copy: the request body buffered as it goes to x, x's answer as it streams,
 * y's as it comes, compared when both are whole. y is asked only once x has answered (the
 * copy's work never goes first) and the request body is whole.
 */
class Copy implements ShadowCopy, YReceiver {
  readonly #s: Shadower
  readonly #req: CopyRequest
  #chunks: Buffer[] | null
  #bodyBytes = 0
  #bodyDone: boolean
  #xStatus = 0
  #xHeaders: readonly string[] = []
  #xDigest: BodyDigest | null = null
  #client = ''
  #node: UpstreamNode | null = null
  /** monotonic ms past which the copy is dropped (set by take) */
  deadline = 0
  #request: YRequestHandle | null = null
  #sent = false
  #x: ShadowAnswer | null = null
  #y: ShadowAnswer | null = null
  #yStatus = 0
  #yHeaders: string[] = []
  #yDigest: BodyDigest | null = null
  /** y's socket waits for x's answer to catch up (Y_AHEAD) */
  #yHeld = false
  /** ms of y's time limit left when its answer was held (the limit waits with it) */
  #heldLeft = 0
  #over = false

  constructor(s: Shadower, req: CopyRequest) {
    this.#s = s
    this.#req = req
    this.#chunks = req.body ? [] : null
    this.#bodyDone = !req.body
  }

  requestBody(chunk: Buffer): void {
    if (this.#over || this.#chunks === null || this.#bodyDone) return
    this.#bodyBytes += chunk.length
    if (this.#bodyBytes > this.#s.config.max_body_bytes) this.#finish('body_too_large')
    // a copy: the chunk's memory may be the socket's, reused after this call
    else this.#chunks.push(Buffer.from(chunk))
  }

  requestEnd(): void {
    if (this.#over || this.#bodyDone) return
    this.#bodyDone = true
    if (this.#node !== null) this.#later()
  }

  respond(status: number, headers: readonly string[], client: string): void {
    if (this.#over || this.#node !== null) return
    const s = this.#s
    const node = s.take(this)
    if (typeof node === 'string') {
      this.#finish(node)
      return
    }
    this.#node = node
    this.#xStatus = status
    this.#xHeaders = headers
    this.#client = client
    this.#xDigest = s.digest(headers)
    if (this.#bodyDone) this.#later()
  }

  /** After the engine has written x's head to the client: the copy's work never goes first. */
  #later(): void {
    queueMicrotask(() => this.#send())
  }

  #send(): void {
    const s = this.#s
    if (this.#over || this.#sent) return
    this.#sent = true
    // y's time limit starts now: it bounds y's answer, from the copy sent until it is whole
    this.deadline = s.clock.monotonic() + s.config.timeout
    const node = this.#node!
    const body = this.#chunks === null ? undefined : Buffer.concat(this.#chunks)
    this.#release()
    this.#request = s.send(node, this.#req, body, this.#client, this)
    if (this.#request === null) this.#finish('stopped')
  }

  yHead(status: number, headers: string[]): void {
    this.#yStatus = status
    this.#yHeaders = headers
    this.#yDigest = this.#s.digest(headers)
  }

  yBody(chunk: Buffer): void {
    const y = this.#yDigest
    if (y === null || this.#over) return
    y.update(chunk)
    const x = this.#x
    if (x !== null) {
      if (longer(y, x)) this.#longer()
    } else if (!this.#yHeld && this.#xDigest !== null && y.length > this.#xDigest.length + Y_AHEAD) {
      // y runs ahead of x's answer (a body without end?): its socket waits for x to catch up,
      // and y's time limit with it (the wait is x's doing)
      this.#yHeld = true
      this.#heldLeft = Math.max(0, this.deadline - this.#s.clock.monotonic())
      this.deadline = Number.POSITIVE_INFINITY
      this.#request?.pause()
    }
  }

  /** y's body is longer than x's whole one, and that decides it: a mismatch now, y read no further. */
  #longer(): void {
    const request = this.#request
    this.#request = null
    request?.cut()
    this.#y = this.#yDigest!.answer(this.#yStatus, this.#yHeaders)
    this.#compare()
  }

  yDone(): void {
    this.#request = null
    if (this.#over || this.#yDigest === null) return
    this.#y = this.#yDigest.answer(this.#yStatus, this.#yHeaders)
    if (this.#x !== null) this.#compare()
    // y answered in time: the copy waits for x's answer, however long x takes (x's own
    // life bounds it: its end, or abort)
    else this.deadline = Number.POSITIVE_INFINITY
  }

  yFailed(reason: string): void {
    this.#request = null
    if (this.#over) return
    const s = this.#s
    if (s.logger.isLevelEnabled('debug')) s.logger.debug({ node: this.#node?.name, err: reason }, 'shadow request failed')
    this.#finish('error')
  }

  /** Past the deadline (the shadower's sweep). */
  expire(): void {
    this.#finish('timeout')
  }

  /** Shadowing stopped: cut, counted for nothing. */
  stop(): void {
    this.#finish('stopped')
  }

  body(chunk: Buffer): void {
    const x = this.#xDigest
    if (this.#over || x === null) return
    x.update(chunk)
    if (this.#yHeld && this.#yDigest!.length <= x.length + Y_AHEAD) this.#unhold()
  }

  end(): void {
    if (this.#over || this.#xDigest === null || this.#x !== null) return
    // x answered before the request body was whole (a 401 or 413 at the head): the rest of
    // the body goes nowhere, so there is no whole request to copy
    if (!this.#bodyDone) {
      this.#finish('x_aborted')
      return
    }
    const x = (this.#x = this.#xDigest.answer(this.#xStatus, this.#xHeaders))
    const y = this.#yDigest
    if (this.#y !== null) this.#compare()
    else if (y !== null && longer(y, x)) this.#longer()
    else if (this.#yHeld) this.#unhold()
  }

  /** y's socket reads on, and y's time limit runs on from where it stood. */
  #unhold(): void {
    this.#yHeld = false
    this.deadline = this.#s.clock.monotonic() + this.#heldLeft
    this.#request?.resume()
  }

  xFailed(): void {
    // x never answered: the copy is not sent (there is nothing to compare y's answer with),
    // and counted, so that an operator sees copies were not made while x failed
    if (this.#node === null) this.#finish('x_failed')
  }

  abort(): void {
    if (this.#x !== null) return // x's answer was whole: y's is still to come
    // before x answered there was nothing to copy yet: not shadowed, not counted
    this.#finish(this.#node === null ? null : 'x_aborted')
  }

  #compare(): void {
    if (this.#over) return
    this.#finish(null)
    this.#s.judge(this.#req, this.#x!, this.#y!)
  }

  /** The buffered body is no longer held. */
  #release(): void {
    if (this.#chunks === null) return
    this.#chunks = null
    this.#s.buffering--
  }

  /** End the copy once: 'error' or a drop reason counted; null: compared or never started; 'stopped': shadowing stopped. */
  #finish(outcome: 'error' | DropReason | 'stopped' | null): void {
    if (this.#over) return
    this.#over = true
    this.#release()
    const s = this.#s
    s.untake(this)
    if (outcome === null) return
    const request = this.#request
    this.#request = null
    request?.cut()
    if (outcome === 'stopped') return
    if (outcome === 'error') s.results.count('error')
    else s.results.drop(outcome)
  }
}
