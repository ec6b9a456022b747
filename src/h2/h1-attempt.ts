/**
 * An attempt of a client's h2 stream on a node's HTTP/1.1 url (a node without an h2
 * address, or any node for a request that is not gRPC when the node has none): node:http
 * with a keep-alive agent per node, the response's headers, body and chunked trailers
 * relayed as h2 frames.
 */

import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { Clock, TimerHandle } from '../clock.js'
import type { NodeConfig } from '../config/types.js'
import type { AttemptUser, NodeAttempt } from './node-attempt.js'
import { responseHeaders } from './node-attempt.js'

const http = process.getBuiltinModule('node:http')
const https = process.getBuiltinModule('node:https')

/** the attempt a request in an agent's line belongs to (moveQueued) */
const ATTEMPT = Symbol('cutover.h1Attempt')

/**
 * Tell the attempts still in agent's line for a socket (at upstream_max_connections) that
 * their node must take no more traffic: nothing of them went to it.
 */
export function moveQueued(agent: Agent): void {
  for (const line of Object.values(agent.requests)) {
    for (const req of [...(line ?? [])]) (req as ClientRequest & { [ATTEMPT]?: H1Attempt })[ATTEMPT]?.moved()
  }
}

/**
 * A keep-alive agent per node; an idle socket closes after keepAliveMs
 * (proxy.upstream_keepalive_timeout, as the HTTP/1.1 engine's connections), or sooner when
 * the node's Keep-Alive header says so (node:http reads its timeout).
 */
export function h1Agent(config: NodeConfig, maxSockets: number, keepAliveMs: number): Agent {
  const options = { keepAlive: true, maxSockets: socketCap(maxSockets), timeout: keepAliveMs, scheduling: 'lifo' as const }
  return config.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options)
}

/** proxy.upstream_max_connections as an agent's maxSockets (0: no limit) */
function socketCap(max: number): number {
  return max > 0 ? max : Number.POSITIVE_INFINITY
}

/**
 * A reloaded proxy.upstream_max_connections for agent: node:http reads maxSockets when a
 * request asks for a socket and when one frees or closes. Raised: a new request gets a
 * connection of its own at once; those already in line take the sockets that free, as
 * before. Lowered: the connections above it stay until they close (idle, keep-alive).
 */
export function setMaxSockets(agent: Agent, max: number): void {
  agent.maxSockets = socketCap(max)
}

/**
 * A reloaded proxy.upstream_keepalive_timeout for agent: a socket going idle from now on
 * keeps it (node:http reads its options' timeout then), and so does each idle one, from now.
 */
export function setKeepAlive(agent: Agent, keepAliveMs: number): void {
  // node:http's own field (not in its typings)
  const options = (agent as Agent & { options: { timeout?: number } }).options
  if (options.timeout === keepAliveMs) return
  options.timeout = keepAliveMs
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.setTimeout(keepAliveMs)
}

export class H1Attempt implements NodeAttempt {
  readonly #user: AttemptUser
  readonly #req: ClientRequest
  #res: IncomingMessage | null = null
  connected = false
  bodySent = false
  #over = false
  readonly #clock: Clock
  readonly #connectTimeout: number
  #connectTimer: TimerHandle | null = null
  /** the request's Content-Length; -1 when it has none (chunked) */
  readonly #declared: number
  /** body bytes written to the node */
  #sent = 0
  /** the declared body's last byte, held until the client's END_STREAM (end) */
  #last: Buffer | null = null

  constructor(config: NodeConfig, agent: Agent, method: string, path: string, headers: OutgoingHttpHeaders, user: AttemptUser, clock: Clock, connectTimeout: number) {
    this.#user = user
    this.#clock = clock
    this.#connectTimeout = connectTimeout
    const length = headers['content-length']
    this.#declared = length === undefined ? -1 : Number(length)
    const mod = config.protocol === 'https:' ? https : http
    const req = mod.request({ host: config.hostname, port: config.port, method, path, headers, agent, setHost: false })
    this.#req = req
    ;(req as ClientRequest & { [ATTEMPT]?: H1Attempt })[ATTEMPT] = this
    req.on('socket', this.#onSocket)
    req.on('information', this.#onInformation)
    req.on('response', this.#onResponse)
    req.on('error', this.#onError)
    req.on('drain', this.#onDrain)
  }

  /**
   * A body of declared length is whole for the node with its last byte, but an h2 request
   * is whole only at the client's END_STREAM (RFC 9113 8.1): a client that sent every byte
   * and then reset the stream abandoned it. The last byte waits for end(); abort() cuts the
   * node's request one byte short, which the node reads as a client gone (nghttp2 allows no
   * DATA beyond a declared content-length).
   */
  write(chunk: Buffer): boolean {
    if (this.#over) return true
    this.bodySent = true
    if (this.#declared >= 0 && this.#sent + chunk.length >= this.#declared && chunk.length > 0) {
      this.#last = chunk.subarray(chunk.length - 1)
      chunk = chunk.subarray(0, chunk.length - 1)
      if (chunk.length === 0) return true
    }
    this.#sent += chunk.length
    return this.#req.write(chunk)
  }

  /**
   * The body is whole. Trailers go as chunked trailers when the body goes chunked (the
   * client sent no content-length); a body of declared length has no place for them in
   * HTTP/1.1 (RFC 9112 7.1.2: trailers follow only the last chunk), so they are dropped.
   * A request with no body at all and trailers goes chunked too, a last chunk carrying
   * them: node:http would otherwise send its head with Content-Length: 0 (no place for them).
   */
  end(trailers?: OutgoingHttpHeaders): void {
    if (this.#over) return
    const req = this.#req
    // no head went yet: no body was written
    const chunked = req.headersSent ? req.chunkedEncoding : !req.hasHeader('content-length')
    if (trailers !== undefined && chunked) {
      try {
        if (!req.headersSent) req.setHeader('transfer-encoding', 'chunked')
        req.addTrailers(trailers)
      } catch (err) {
        // a name or value HTTP/1.1 cannot carry: the request cannot go whole
        this.#onError(err as Error)
        return
      }
    }
    if (this.#last !== null) req.end(this.#last)
    else req.end()
  }

  pause(): void {
    this.#res?.pause()
  }

  resume(): void {
    this.#res?.resume()
  }

  abort(): void {
    this.#clock.clearTimeout(this.#connectTimer)
    if (this.#over) return
    this.#over = true
    this.#req.destroy()
  }

  abandon(): void {
    this.#over = true
    if (!this.#req.writableFinished) this.#req.destroy()
  }

  /** In the agent's line for a socket of a node that must take no more traffic (moveQueued). */
  moved(): void {
    if (!this.#over && this.#req.socket == null) this.#user.moved()
  }

  #onSocket = (socket: Socket): void => {
    if (!socket.connecting) {
      this.#onConnected()
      return
    }
    socket.once('connect', this.#onConnected)
    this.#connectTimer = this.#clock.setTimeout(() => this.#onError(new Error(`connect timeout after ${this.#connectTimeout}ms`)), this.#connectTimeout)
  }

  /** Connected: the body may flow now (before, a refused connect can still be retried with it). */
  #onConnected = (): void => {
    this.#clock.clearTimeout(this.#connectTimer)
    this.connected = true
    if (!this.#over) this.#user.drain()
  }

  #onInformation = (info: { statusCode: number; headers: IncomingHttpHeaders }): void => {
    if (!this.#over && info.statusCode !== 101) this.#user.informational(responseHeaders(info.statusCode, info.headers))
  }

  #onResponse = (res: IncomingMessage): void => {
    if (this.#over) {
      res.destroy()
      return
    }
    this.#res = res
    const status = res.statusCode ?? 502
    res.on('data', (chunk: Buffer) => {
      if (!this.#over) this.#user.data(chunk)
    })
    res.on('end', this.#onEnd)
    res.on('error', this.#onError)
    res.on('aborted', () => this.#onError(new Error('the node cut the response')))
    this.#user.response(status, responseHeaders(status, res.headers), false)
  }

  #onEnd = (): void => {
    if (this.#over) return
    this.#over = true
    const trailers = this.#res!.trailers
    if (Object.keys(trailers).length > 0) this.#user.trailers(trailers)
    this.#user.end()
  }

  #onDrain = (): void => {
    if (!this.#over) this.#user.drain()
  }

  #onError = (err: Error): void => {
    this.#clock.clearTimeout(this.#connectTimer)
    if (this.#over) return
    if (this.#res?.complete === true) {
      // the answer was whole before the error: bytes after it (a body sent with a HEAD
      // answer, stray bytes after the last chunk) broke only the connection, which
      // node:http does not reuse. Its body may still be queued in res: 'data' and 'end'
      // come, and the client gets the answer whole, as on the HTTP/1.1 path
      return
    }
    this.#over = true
    this.#req.destroy()
    this.#user.failed(this.#res === null && !this.connected ? 'connect' : 'reset', err)
  }
}
