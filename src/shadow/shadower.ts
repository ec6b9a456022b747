/**
 * The shadow shell: samples x's requests (shadow.share, its methods, no body), sends a
 * copy to a y node through its own small client (an undici Agent apart from the engine's
 * node pools, so a slow y never holds a connection real traffic needs), and compares the
 * answers once both are whole. Its own concurrency cap and time limit: past them a copy is
 * dropped and counted, never waited for.
 */

import { Agent, request } from 'undici'
import type { Logger } from 'pino'
import type { Clock, Random, TimerHandle } from '../clock.js'
import type { ShadowConfig } from '../config/analysis.js'
import type { RequestHead } from '../http1/index.js'
import type { Router } from '../routing/table.js'
import type { UpstreamNode } from '../upstream/node.js'
import { BodyDigest, headerOf, isJsonType } from './body-digest.js'
import { type CompareOptions, compareAnswers, type ShadowAnswer } from './compare.js'
import type { ShadowResults } from './results.js'
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

export interface ShadowerOptions {
  config: ShadowConfig
  results: ShadowResults
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
  readonly results: ShadowResults
  readonly #router: Router
  readonly clock: Clock
  readonly #random: Random
  readonly logger: Logger
  readonly #https: boolean
  #agent: Agent
  #next = 0
  /** shadow requests on their way now */
  inflight = 0

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
    this.#agent = newAgent(options.config)
    this.configure(options.config)
  }

  /** A reloaded shadow section; a new cap or time limit takes a new client. */
  configure(config: ShadowConfig): void {
    if (config.max_concurrent !== this.#config.max_concurrent || config.timeout !== this.#config.timeout) {
      void this.#agent.close()
      this.#agent = newAgent(config)
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

  start(head: RequestHead, status: number, headers: readonly string[], client: string): ShadowCopy | null {
    if (head.framing.kind !== 'none' || head.upgrade || !this.#methods.has(head.method)) return null
    if (this.#basisPoints <= 0 || this.#random() * 10000 >= this.#basisPoints) return null
    if (this.inflight >= this.#config.max_concurrent) {
      this.results.count('dropped')
      return null
    }
    const node = this.#pickY()
    if (node === undefined) {
      this.results.count('dropped')
      return null
    }
    this.inflight++
    return new Copy(this, node, head, status, headers, client)
  }

  /** The y request of a copy: its answer, or why there is none. */
  send(node: UpstreamNode, head: RequestHead, client: string, signal: AbortSignal): Promise<ShadowAnswer> {
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
    return request(node.config.origin + path, { method: head.method as 'GET', headers: out, dispatcher: this.#agent, signal }).then(async (res) => {
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
  judge(head: RequestHead, x: ShadowAnswer, y: ShadowAnswer): void {
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
    await this.#agent.destroy()
  }

  /** y's usable nodes in turn (node weights are for real traffic; a copy is one request). */
  #pickY(): UpstreamNode | undefined {
    const nodes = this.#router.table.y.nodes
    if (nodes.length === 0) return undefined
    this.#next = (this.#next + 1) % nodes.length
    return nodes[this.#next]
  }
}

function newAgent(config: ShadowConfig): Agent {
  return new Agent({ connections: config.max_concurrent, headersTimeout: config.timeout, bodyTimeout: config.timeout, keepAliveTimeout: 4000 })
}

function pathOf(target: string): string {
  try {
    const u = new URL(target)
    return u.pathname + u.search
  } catch {
    return '/'
  }
}

/** One request's copy: x's answer as it streams, y's as it comes, compared when both are whole. */
class Copy implements ShadowCopy {
  readonly #s: Shadower
  readonly #head: RequestHead
  readonly #xStatus: number
  readonly #xHeaders: readonly string[]
  readonly #xDigest: BodyDigest
  readonly #abort = new AbortController()
  readonly #timer: TimerHandle
  #x: ShadowAnswer | null = null
  #y: ShadowAnswer | null = null
  #over = false

  constructor(s: Shadower, node: UpstreamNode, head: RequestHead, status: number, headers: readonly string[], client: string) {
    this.#s = s
    this.#head = head
    this.#xStatus = status
    this.#xHeaders = headers
    this.#xDigest = new BodyDigest(isJsonType(headerOf(headers, 'content-type')), s.config.json_max)
    this.#timer = s.clock.setTimeout(() => this.#finish('dropped'), s.config.timeout)
    // after the engine has written x's head to the client: the copy's work never goes first
    queueMicrotask(() => this.#send(node, client))
  }

  #send(node: UpstreamNode, client: string): void {
    const s = this.#s
    if (this.#over) return
    s.send(node, this.#head, client, this.#abort.signal).then(
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
    if (!this.#over) this.#xDigest.update(chunk)
  }

  end(): void {
    if (this.#over) return
    this.#x = this.#xDigest.answer(this.#xStatus, this.#xHeaders)
    if (this.#y !== null) this.#compare()
  }

  abort(): void {
    this.#finish('dropped')
  }

  #compare(): void {
    if (this.#over) return
    this.#finish(null)
    this.#s.judge(this.#head, this.#x!, this.#y!)
  }

  /** End the copy once; an outcome to count when it ends without a comparison. */
  #finish(outcome: 'dropped' | 'error' | null): void {
    if (this.#over) return
    this.#over = true
    this.#s.clock.clearTimeout(this.#timer)
    this.#s.inflight--
    if (outcome !== null) {
      this.#abort.abort()
      this.#s.results.count(outcome)
    }
  }
}
