/**
 * The shadow shell: samples x's requests (shadow.share, its methods; a body only up to
 * shadow.max_body_bytes, buffered as it goes to x), sends a copy to a y node through its
 * own small client (an undici Agent apart from the engine's node pools, so a slow y never
 * holds a connection real traffic needs), and compares the answers once both are whole.
 * Its own concurrency cap and time limit: past them a copy is dropped and counted, never
 * waited for.
 */

import type { IncomingHttpHeaders } from 'node:http2'
import type { Agent } from 'undici'
import type { Logger } from 'pino'
import type { Clock, Random, TimerHandle } from '../clock.js'
import type { ShadowConfig } from '../config/analysis.js'
import type { RequestHead } from '../http1/index.js'
import type { Router } from '../routing/table.js'
import type { UpstreamNode } from '../upstream/node.js'
import { BodyDigest, headerOf, isJsonType } from './body-digest.js'
import { type CompareOptions, compareAnswers, type ShadowAnswer } from './compare.js'
import type { DropReason, ShadowRecorder } from './results.js'
import { undici } from '../undici-on-demand.js'
import { routePattern } from './route-pattern.js'
import type { ShadowCopy, ShadowTap } from './tap.js'

/** request headers never sent on (hop-by-hop, or undici's to set) */
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
  /** the copies' own client, made on the first copy (undici loads on demand) */
  #agent: Agent | undefined
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
    this.configure(options.config)
  }

  /** A reloaded shadow section; a new cap or time limit takes a new client. */
  configure(config: ShadowConfig): void {
    if (config.max_concurrent !== this.#config.max_concurrent || config.timeout !== this.#config.timeout) {
      void this.#agent?.close()
      this.#agent = undefined
    }
    this.#config = config
    this.#methods = new Set(config.methods)
    this.#basisPoints = Math.round(config.share * 100)
    this.#compare = { ignoreHeaders: new Set(config.ignore_headers), ignoreFields: config.ignore_fields }
    this.results.configure(config.share, config.redact_headers)
  }

  get config(): ShadowConfig {
    return this.#config
  }

  pick(head: RequestHead): ShadowCopy | null {
    if (this.#basisPoints <= 0 || head.upgrade || !this.#methods.has(head.method) || !this.#sampled()) return null
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
    if (!this.#sampled()) return null
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

  /** A slot and a y node for a copy whose x answered; the reason when there is none. */
  take(): UpstreamNode | DropReason {
    if (this.inflight >= this.#config.max_concurrent) return 'busy'
    const node = this.#pickY()
    if (node === undefined) return 'no_y_node'
    this.inflight++
    return node
  }

  /** The y request of a copy: its answer, or why there is none. */
  send(node: UpstreamNode, head: CopyRequest, body: Buffer | undefined, client: string, signal: AbortSignal): Promise<ShadowAnswer> {
    const out: string[] = []
    let xff: string | undefined
    const raw = head.headers
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i].toLowerCase()
      if (name === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`
      if (HOP.has(name) || name === this.#config.header) continue
      out.push(raw[i], raw[i + 1])
    }
    out.push('x-forwarded-for', xff === undefined ? client : `${xff}, ${client}`, 'x-forwarded-proto', this.#https ? 'https' : 'http', this.#config.header, '1')
    const path = head.target.startsWith('/') ? head.target : pathOf(head.target)
    return undici().then(async ({ Agent, request }) => {
      if (this.#closed) throw new Error('shadowing stopped')
      this.#agent ??= new Agent({ connections: this.#config.max_concurrent, headersTimeout: this.#config.timeout, bodyTimeout: this.#config.timeout, keepAliveTimeout: 4000 })
      const res = await request(node.config.origin + path, { method: head.method as 'GET', headers: out, body, dispatcher: this.#agent, signal })
      const flat: string[] = []
      for (const [name, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) flat.push(name, v)
        else if (value !== undefined) flat.push(name, value)
      }
      const digest = new BodyDigest(isJsonType(headerOf(flat, 'content-type')), this.#config.json_max)
      for await (const chunk of res.body) digest.update(chunk as Buffer)
      return digest.answer(res.statusCode, flat)
    })
  }

  /** Both answers are whole: count a match or file the mismatch under its class. */
  judge(head: CopyRequest, x: ShadowAnswer, y: ShadowAnswer): void {
    const c = compareAnswers(x, y, this.#compare)
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

  /** Stop: copies in flight are cut. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#agent?.destroy()
  }

  /** y's usable nodes in turn (node weights are for real traffic; a copy is one request). */
  #pickY(): UpstreamNode | undefined {
    const nodes = this.#router.table.y.nodes
    if (nodes.length === 0) return undefined
    this.#next = (this.#next + 1) % nodes.length
    return nodes[this.#next]
  }
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
class Copy implements ShadowCopy {
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
  readonly #abort = new AbortController()
  #timer: TimerHandle | null = null
  #sent = false
  #x: ShadowAnswer | null = null
  #y: ShadowAnswer | null = null
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
    const node = s.take()
    if (typeof node === 'string') {
      this.#finish(node)
      return
    }
    this.#node = node
    this.#xStatus = status
    this.#xHeaders = headers
    this.#client = client
    this.#xDigest = new BodyDigest(isJsonType(headerOf(headers, 'content-type')), s.config.json_max)
    this.#timer = s.clock.setTimeout(() => this.#finish('timeout'), s.config.timeout)
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
    const node = this.#node!
    const body = this.#chunks === null ? undefined : Buffer.concat(this.#chunks)
    this.#release()
    s.send(node, this.#req, body, this.#client, this.#abort.signal).then(
      (y) => {
        this.#y = y
        if (this.#x !== null) this.#compare()
      },
      (err: unknown) => {
        if (this.#over) return
        if (s.logger.isLevelEnabled('debug')) s.logger.debug({ node: node.name, err: (err as Error).message }, 'shadow request failed')
        this.#finish('error')
      },
    )
  }

  body(chunk: Buffer): void {
    if (!this.#over) this.#xDigest?.update(chunk)
  }

  end(): void {
    if (this.#over || this.#xDigest === null || this.#x !== null) return
    this.#x = this.#xDigest.answer(this.#xStatus, this.#xHeaders)
    if (this.#y !== null) this.#compare()
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

  /** End the copy once: 'error' or a drop reason counted, null when compared or never started. */
  #finish(outcome: 'error' | DropReason | null): void {
    if (this.#over) return
    this.#over = true
    this.#release()
    const s = this.#s
    if (this.#timer !== null) s.clock.clearTimeout(this.#timer)
    if (this.#node !== null) s.inflight--
    if (outcome === null) return
    this.#abort.abort()
    if (outcome === 'error') s.results.count('error')
    else s.results.drop(outcome)
  }
}
