/**
 * The forwarder: one client request in, one upstream answer out. Picks the pool and the
 * node from the routing table, dispatches on the node's undici Pool with a raw legacy
 * handler (no header parsing), streams both ways with backpressure, retries on another
 * node when SPEC 4.4 allows, and reports every step to the outcome sink.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { Clock, Random } from '../clock.js'
import type { Config, PoolName } from '../config/types.js'
import { CutoverError } from '../errors.js'
import { pickNode } from '../routing/node-pick.js'
import { pickPool } from '../routing/pool-pick.js'
import type { Router } from '../routing/table.js'
import type { FailureKind, OutcomeReport, RefusalReason } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { AccessLog } from './access-log.js'
import { classifyFailure, failureStatus, isIdempotent, isRetryable } from './failure.js'
import { FRAMING, framingProblem, type FramingProblem } from './framing.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import { openTunnel } from './tunnel.js'

export interface ForwarderOptions {
  proxy: Config['proxy']
  router: Router
  sink: OutcomeReport
  random: Random
  clock: Clock
  logger: Logger
  /** the listener speaks TLS: X-Forwarded-Proto https */
  https: boolean
  /** a request was shed at proxy.max_inflight (503, no node touched); for cutover_shed_total */
  onShed?: () => void
  /** a request was refused before any node saw it: ambiguous framing, head too large, head too slow */
  onRefused?: (reason: RefusalReason) => void
  /**
   * every configured node, usable or not: a retry whose every usable node has failed tries
   * an ejected or unhealthy one rather than fail the client (Envoy's panic routing, for
   * retries only). Absent: retries stay on usable nodes.
   */
  allNodes?: () => Readonly<Record<PoolName, readonly UpstreamNode[]>>
  /** sampled access log; absent when log.access is off */
  accessLog?: AccessLog
}

/** what the client got when it went away before any answer (nginx's convention) */
export const CLIENT_CLOSED = 499

const kExchange = Symbol('cutover.exchange')
/** on a client socket: a request on it was refused, nothing more from it is forwarded */
const kRefused = Symbol('cutover.refused')

/** Cutover's own error bodies, built once. */
const BODIES: Record<number, Buffer> = {
  413: jsonMessage('request body too large'),
  502: jsonMessage('upstream failed'),
  503: jsonMessage('no upstream node is usable'),
  504: jsonMessage('upstream timed out'),
}

function jsonMessage(message: string): Buffer {
  return Buffer.from(JSON.stringify({ message }))
}

/** 400 bodies, one per framing problem, built once. */
const FRAMING_BODIES = new Map<string, Buffer>(Object.values(FRAMING).map((reason) => [reason, jsonMessage(`bad request: ${reason}`)]))

const SHED_BODY = jsonMessage('cutover is overloaded')
const SHED_HEADERS = ['content-type', 'application/json', 'content-length', String(SHED_BODY.length), 'retry-after', '1', 'connection', 'close']

/** Refuse an ambiguous request: 400, close, and forward nothing more from this connection. */
function refuseFraming(socket: Duplex, res: ServerResponse, problem: FramingProblem): void {
  ;(socket as unknown as Record<symbol, boolean>)[kRefused] = true
  const body = FRAMING_BODIES.get(problem)!
  res.shouldKeepAlive = false
  res.writeHead(400, ['content-type', 'application/json', 'content-length', String(body.length), 'connection', 'close'])
  res.end(body)
}

/** A request arrived on a connection where an earlier one was refused. */
function isRefused(socket: Duplex): boolean {
  return (socket as unknown as Record<symbol, boolean | undefined>)[kRefused] === true
}

/** Answer with one of cutover's JSON errors; closes the connection when the body was not read. */
export function sendError(res: ServerResponse, status: number, close: boolean): void {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  const body = BODIES[status] ?? BODIES[502]
  const headers = ['content-type', 'application/json', 'content-length', String(body.length)]
  if (close) headers.push('connection', 'close')
  res.writeHead(status, headers)
  res.end(body)
}

/** Send one client request upstream; the shell around the pure routing decisions. */
export class Forwarder {
  proxy: Config['proxy']
  readonly router: Router
  readonly sink: OutcomeReport
  readonly random: Random
  readonly clock: Clock
  readonly logger: Logger
  readonly https: boolean
  readonly onShed: (() => void) | undefined
  readonly onRefused: ((reason: RefusalReason) => void) | undefined
  readonly allNodes: (() => Readonly<Record<PoolName, readonly UpstreamNode[]>>) | undefined
  accessLog: AccessLog | undefined
  /** client requests on their way upstream now (proxy.max_inflight bounds it) */
  inflight = 0

  constructor(options: ForwarderOptions) {
    this.proxy = options.proxy
    this.router = options.router
    this.sink = options.sink
    this.random = options.random
    this.clock = options.clock
    this.logger = options.logger
    this.https = options.https
    this.onShed = options.onShed
    this.onRefused = options.onRefused
    this.allNodes = options.allNodes
    this.accessLog = options.accessLog
  }

  /** Apply a reloaded proxy section (timeouts, retries, body limit) to requests from now on. */
  configure(proxy: Config['proxy'], accessLog?: AccessLog): void {
    this.proxy = proxy
    this.accessLog = accessLog
  }

  /** A node of pool, else of the other pool (SPEC 4.3), never one in exclude. */
  nodeFor(pool: PoolName, exclude?: UpstreamNode | readonly UpstreamNode[]): UpstreamNode | undefined {
    const table = this.router.table
    return pickNode(table[pool], this.random, exclude) ?? pickNode(table[pool === 'x' ? 'y' : 'x'], this.random, exclude)
  }

  /** The least loaded configured node of pool, else of the other pool, not in tried; for retries only. */
  lastResort(pool: PoolName, tried: readonly UpstreamNode[]): UpstreamNode | undefined {
    if (this.allNodes === undefined) return undefined
    const all = this.allNodes()
    return leastLoaded(all[pool], tried) ?? leastLoaded(all[pool === 'x' ? 'y' : 'x'], tried)
  }

  /** Forward one HTTP request; never throws, always answers or cuts the client. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now()
    res.sendDate = false // responses are not altered: no Date the upstream did not send
    req.on('error', onReqError)
    const socket = req.socket
    // a request pipelined behind a refused one: the connection closes after the 400
    if (isRefused(socket)) return
    const problem = framingProblem(req.httpVersion, req.rawHeaders)
    if (problem !== null) {
      refuseFraming(socket, res, problem)
      if (this.onRefused !== undefined) this.onRefused('framing')
      return
    }
    const limit = this.proxy.max_inflight
    if (limit > 0 && this.inflight >= limit) {
      // shed before any work: no node, no sink (overload is not the pools' fault)
      res.shouldKeepAlive = false
      res.writeHead(503, SHED_HEADERS)
      res.end(SHED_BODY)
      if (this.onShed !== undefined) this.onShed()
      return
    }
    const pool = pickPool(this.router.table, req.headers, req.socket.remoteAddress, this.random)
    const max = this.proxy.max_body_size
    if (max > 0) {
      const length = req.headers['content-length']
      if (length !== undefined && Number(length) > max) {
        sendError(res, 413, true)
        this.sink.finished(pool, 413, performance.now() - start)
        return
      }
    }
    const node = this.nodeFor(pool)
    if (node === undefined) {
      sendError(res, 503, !req.complete)
      this.sink.finished(pool, 503, performance.now() - start)
      return
    }
    const ex = new Exchange(this, req, res, start, pool)
    if (max > 0 && ex.hasBody && req.headers['content-length'] === undefined) {
      // a chunked body is counted as undici reads it; paused first so no byte is lost
      req.pause()
      req.on('data', countBody)
    }
    ex.send(node)
  }

  /** Forward a WebSocket (or other Upgrade) request as a byte tunnel to one node. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const problem = framingProblem(req.httpVersion, req.rawHeaders)
    if (problem !== null) {
      const body = FRAMING_BODIES.get(problem)!
      socket.on('error', ignore)
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`)
      if (this.onRefused !== undefined) this.onRefused('framing')
      return
    }
    openTunnel(this, req, socket, head)
  }
}

function ignore(): void {}

function leastLoaded(nodes: readonly UpstreamNode[], tried: readonly UpstreamNode[]): UpstreamNode | undefined {
  let best: UpstreamNode | undefined
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]
    if (n.weight > 0 && !tried.includes(n) && (best === undefined || n.inflight < best.inflight)) best = n
  }
  return best
}

/**
 * The client request failed: its connection closed before the answer (also for a request
 * pipelined behind another, whose response never gets a 'close'), or its body was malformed.
 */
function onReqError(this: IncomingMessage): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange]
  if (ex !== undefined) ex.clientClosed()
}

/** res 'close': before the response ended means the client went away. */
function onResClose(this: ServerResponse): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange]
  if (ex !== undefined && !this.writableFinished) ex.clientClosed()
}

function onResDrain(this: ServerResponse): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange]
  if (ex !== undefined && ex.resume !== null) ex.resume()
}

function countBody(this: IncomingMessage, chunk: Buffer): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange]
  if (ex === undefined) return
  ex.bodyBytes += chunk.length
  if (ex.bodyBytes > ex.fw.proxy.max_body_size) ex.bodyTooLarge()
}

function retryTick(ex: Exchange, node: UpstreamNode): void {
  if (ex.clientGone) ex.finish(CLIENT_CLOSED)
  else ex.send(node)
}

/**
 * One client request on its way: the undici handler of each of its attempts (one at a
 * time, so the same object serves them all) and the bookkeeping the sink needs.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly fw: Forwarder
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly start: number
  readonly hasBody: boolean
  readonly opts: Dispatcher.DispatchOptions
  /** the pool of the node in use, or the one picked */
  pool: PoolName
  node: UpstreamNode | null = null
  /** the node of the latest attempt, kept for the access log after the attempt ended */
  lastNode: UpstreamNode | null = null
  tried: UpstreamNode[] | null = null
  attempts = 0
  abortUpstream: ((err?: Error) => void) | null = null
  connected = false
  resume: (() => void) | null = null
  /** the status the client got; 0 before the response head was written */
  status = 0
  clientGone = false
  done = false
  bodyBytes = 0
  /** ms from arrival to the response head; -1 until then */
  headersMs = -1

  constructor(fw: Forwarder, req: IncomingMessage, res: ServerResponse, start: number, pool: PoolName) {
    this.fw = fw
    this.req = req
    this.res = res
    this.start = start
    this.pool = pool
    const h = req.headers
    const length = h['content-length']
    this.hasBody = h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
    fw.inflight++
    this.opts = {
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers: upstreamRequestHeaders(req, fw.https),
      body: this.hasBody ? req : null,
      headersTimeout: fw.proxy.request_timeout,
      bodyTimeout: 0,
    }
    const slot = res as unknown as Record<symbol, Exchange>
    slot[kExchange] = this
    ;(req as unknown as Record<symbol, Exchange>)[kExchange] = this
    res.on('close', onResClose)
  }

  /** Start an attempt on node. */
  send(node: UpstreamNode): void {
    this.node = node
    this.lastNode = node
    this.pool = node.pool
    this.attempts++
    this.connected = false
    this.abortUpstream = null
    node.inflight++
    this.fw.sink.attemptStarted(node)
    node.dispatcher.dispatch(this.opts, this)
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort
    this.connected = true
    if (this.clientGone) abort()
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx interim answers (103 Early Hints) are not passed on
    if (statusCode < 200) return true
    const res = this.res
    this.resume = resume
    try {
      res.writeHead(statusCode, statusText, clientResponseHeaders(rawHeaders))
    } catch (err) {
      // a head Node refuses to write (bad header characters): the upstream answered garbage
      this.resume = null
      throw new CutoverError('CUTOVER_ERR_UPSTREAM', 'upstream response head cannot be relayed', { cause: err })
    }
    this.status = statusCode
    const ms = (this.headersMs = performance.now() - this.start)
    this.fw.sink.answered(this.node!, statusCode, ms)
    res.on('drain', onResDrain)
    return true
  }

  onData(chunk: Buffer): boolean {
    return this.res.write(chunk)
  }

  onComplete(): void {
    this.res.end()
    this.endAttempt()
    this.finish(this.status)
  }

  onError(err: Error): void {
    const node = this.node!
    if (this.clientGone) {
      this.endAttempt()
      this.finish(this.status || CLIENT_CLOSED)
      return
    }
    if ((err as CutoverError).code === 'CUTOVER_ERR_BODY_TOO_LARGE') {
      this.endAttempt()
      sendError(this.res, 413, true)
      this.finish(413)
      return
    }
    const kind = classifyFailure(err, this.connected)
    this.fw.sink.attemptFailed(node, kind)
    this.endAttempt()
    if (this.status !== 0) {
      // the response had started: the client must see it broken, never cut short and whole
      this.res.destroy()
      this.finish(this.status)
      return
    }
    const next = this.nextNode(node, kind)
    if (next !== undefined) {
      // out of undici's error path before dispatching again
      process.nextTick(retryTick, this, next)
      return
    }
    if (this.fw.logger.isLevelEnabled('debug')) {
      this.fw.logger.debug({ node: node.name, kind, err: err.message, attempts: this.attempts }, 'upstream attempt failed')
    }
    const status = failureStatus(kind)
    sendError(this.res, status, !this.req.complete)
    this.finish(status)
  }

  /** Another node for a retry, or undefined when none is allowed or left. */
  nextNode(failed: UpstreamNode, kind: FailureKind): UpstreamNode | undefined {
    if (this.attempts > this.fw.proxy.retries) return undefined
    const bodyRead = this.hasBody && this.req.readableDidRead
    if (!isRetryable(kind, isIdempotent(this.opts.method), bodyRead)) return undefined
    const tried = (this.tried ??= [])
    tried.push(failed)
    // another usable node of the same pool first, else of the other pool, else any node;
    // but the last retry goes to the other pool first: when a whole pool goes down at once
    // its nodes all still look usable until ejection catches up, whether the first failure
    // was a refused connect or a reset of a request already in flight
    const last = this.attempts === this.fw.proxy.retries
    const pool = last ? (failed.pool === 'x' ? 'y' : 'x') : failed.pool
    return this.fw.nodeFor(pool, tried) ?? this.fw.lastResort(failed.pool, tried)
  }

  /** The client went away: stop the upstream request. */
  clientClosed(): void {
    if (this.done) return
    this.clientGone = true
    // onError follows synchronously and reports the end
    if (this.abortUpstream !== null) this.abortUpstream()
  }

  /** A chunked body went over max_body_size: stop the upload and answer 413. */
  bodyTooLarge(): void {
    this.req.off('data', countBody)
    this.req.pause()
    const err = new CutoverError('CUTOVER_ERR_BODY_TOO_LARGE', 'request body too large')
    if (this.abortUpstream !== null) this.abortUpstream(err)
  }

  endAttempt(): void {
    const node = this.node
    if (node === null) return
    this.node = null
    this.abortUpstream = null
    node.inflight--
    this.fw.sink.attemptEnded(node)
  }

  finish(status: number): void {
    if (this.done) return
    this.done = true
    this.fw.inflight--
    this.resume = null
    const ms = this.headersMs >= 0 ? this.headersMs : performance.now() - this.start
    this.fw.sink.finished(this.pool, status, ms)
    const access = this.fw.accessLog
    if (access !== undefined) access.record({ req: this.req, pool: this.pool, node: this.lastNode?.name ?? null, status, ms, attempts: this.attempts })
  }
}
