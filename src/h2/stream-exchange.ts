/**
 * One client HTTP/2 stream on its way (issue 12): routed on its own (override header,
 * sticky key, weighted split: a long-lived connection never pins a client to a pool),
 * tried on a node (its h2 listener, or its HTTP/1.1 url when it has none and the stream
 * is not gRPC), retried by routing/fallback.ts, relayed with flow control both ways (a
 * slow client slows its own stream), 1xx and trailers passed through, and reported to the
 * outcome sink; a gRPC call is judged by its grpc-status once the call is over.
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { TimerHandle } from '../clock.js'
import type { PoolName } from '../config/types.js'
import { ANSWERS, failureAnswer, type ProxyAnswer, proxyAnswer } from '../answers.js'
import { isCutoverError } from '../errors.js'
import { errorWhy } from '../forwarding/failure-log.js'
import { CLIENT_CLOSED, type Forwarder, type LongLived, type LongLivedKind } from '../forwarding/forwarder.js'
import type { ThrottledWarning } from '../forwarding/throttled-warning.js'
import { isEventStreamType } from '../forwarding/headers.js'
import { type FailureKind, type Listener, NO_GRPC } from '../outcome/outcome-sink.js'
import { firstNode, h2Closed, isIdempotent, withClosedH2 } from '../routing/fallback.js'
import { pickPool } from '../routing/pool-pick.js'
import { StreamCopy } from '../shadow/stream-copy.js'
import type { UpstreamNode } from '../upstream/node.js'
import { GRPC_UNAVAILABLE, type GrpcMask, grpcStatusForHttp, isGrpcContentType, isGrpcFailure, parseGrpcStatus } from './grpc-status.js'
import { H1Attempt } from './h1-attempt.js'
import { H2Attempt } from './h2-attempt.js'
import type { H2Nodes } from './h2-nodes.js'
import { type AttemptUser, CONNECTION_HEADERS, cleanTrailers, type NodeAttempt } from './node-attempt.js'

const http2 = process.getBuiltinModule('node:http2')

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants

/** the largest piece of a body written to the client's stream at once: HTTP/2's default largest DATA frame */
const DATA_PIECE = 16 * 1024

/**
 * the most of a request body kept until the answer begins, so that a stream its node never
 * processed (REFUSED_STREAM, above a GOAWAY's last stream id) can go to another node whole:
 * a gRPC call's message, a small POST. The default stream window: Node holds as much of a
 * paused stream anyway. A longer body is not kept, and such a stream is not sent again
 */
const KEEP_FOR_RETRY = 64 * 1024

/** A Writable's own `_writev`, undefined to make it write its queued chunks one at a time. */
type Writev = { _writev?: unknown }

/** What every stream of a listener shares. */
export interface StreamContext {
  readonly fw: Forwarder
  readonly nodes: H2Nodes
  /** gates.grpc_failures as a mask */
  grpcFailures: GrpcMask
  /** gRPC calls answered UNAVAILABLE for want of a node with an h2 address */
  readonly noH2Node: ThrottledWarning
}

const enum Stage {
  Idle,
  /** waiting for a connection or session */
  Connecting,
  /** the request went out; no response head yet */
  Waiting,
  /** the response head went to the client */
  Streaming,
  Done,
}

/**
 * Ends a stream whose request cutover answered without reading it (see #answer). The body
 * bytes still in the stream are dropped: Node destroys a stream closed with NO_ERROR (by
 * cutover or by the client) only once its readable side ended, which a paused stream with
 * bytes in it never does; it stayed in its session for ever, and a session the client had
 * sent GOAWAY waited on it, reading nothing more, its client's FIN unheard.
 */
function closeUnread(this: ServerHttp2Stream): void {
  if (!this.closed && !this.destroyed) this.close(NGHTTP2_NO_ERROR)
  if (!this.destroyed) this.resume()
}

/**
 * Whether an early answer keeps its END_STREAM and trailers (#closeWhenEnded): on Node 24
 * and later. On Node 20 the h2 fuzz aborted with heap corruption in 11 runs of 48 with it,
 * against 4 of 48 without (a bug of Node 20's, met more often when an answer's trailers go
 * while the client still sends); Node 22 is not tested. Below 24 the early answer is reset
 * once its data went, its END_STREAM and trailers lost (test/h2/early-answer-end.test.ts).
 */
export const EARLY_END_KEPT = Number(process.versions.node.split('.')[0]) >= 24

/** Whether nghttp2 wrote out the stream's END_STREAM (RFC 9113 half-closed (local)). */
function localClosed(stream: ServerHttp2Stream): boolean {
  return stream.state.localClose === 1
}

/** turns of the event loop #closeWhenEnded looks for an early answer's END_STREAM, before it looks every END_LOOK_MS */
const END_LOOK_TURNS = 8
const END_LOOK_MS = 20

/** The second turn after sendTrailers: Node's own immediate has written the trailers out by then. */
function afterTrailersSubmitted(then: () => void): void {
  setImmediate(then)
}

/** a gRPC call with no usable node that has an h2 address (pools.*.nodes[].h2) */
const NO_H2_NODE = proxyAnswer('CUTOVER_ERR_NO_NODE', 'no usable node has an h2 address for a gRPC call')
/** CONNECT (tunnels, WebSockets over HTTP/2 by RFC 8441) is not relayed on h2 */
const NO_CONNECT = proxyAnswer('CUTOVER_ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported over HTTP/2; use HTTP/1.1 for WebSockets')

/** request trailers that arrived before a stream's exchange started (see keepEarlyTrailers) */
const earlyTrailers = new WeakMap<ServerHttp2Stream, IncomingHttpHeaders>()

function onEarlyTrailers(this: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  earlyTrailers.set(this, headers)
}

/**
 * Keep a stream's request trailers from now until its exchange starts: a client that sends
 * headers, body and trailers in one write has them all read before the listener's
 * setImmediate creates the exchange, and Node emits 'trailers' only once.
 */
export function keepEarlyTrailers(stream: ServerHttp2Stream): void {
  stream.once('trailers', onEarlyTrailers)
}

/** UNKNOWN: a gRPC answer that ended without any grpc-status */
const GRPC_NO_STATUS = 2

export class StreamExchange implements AttemptUser, LongLived {
  readonly #ctx: StreamContext
  readonly #stream: ServerHttp2Stream
  readonly #headers: IncomingHttpHeaders
  readonly #remote: string | undefined
  readonly #https: boolean
  readonly #start: number
  readonly #grpc: boolean
  #pool: PoolName = 'x'
  #node: UpstreamNode | null = null
  #lastNode: UpstreamNode | null = null
  #tried: UpstreamNode[] | null = null
  #attempts = 0
  #attempt: NodeAttempt | null = null
  /** the answer is a gRPC one or an event stream, in fw.longLived until it ends */
  #held = false
  /** the node listener of the current attempt, for passive health (each is ejected on its own) */
  #via: Listener = 'http1'
  #stage = Stage.Idle
  #timer: TimerHandle | null = null
  #bodyBytes = 0
  #clientEnded: boolean
  #status = 0
  #headersMs = -1
  #grpcStatus = NO_GRPC
  #trailers: OutgoingHttpHeaders | null = null
  /** the copy sent to y (issue 13, src/shadow/); null when not shadowed */
  #shadow: StreamCopy | null = null
  /** the answer's end is its trailers (or an empty DATA frame): Node has not asked for them yet ('wantTrailers') */
  #trailersDue = false
  /** an answer that came before the request's end: RST_STREAM(NO_ERROR) once its END_STREAM went (#closeWhenEnded) */
  #closeAfterEnd = false
  /** times #closeWhenEnded looked for the early answer's END_STREAM */
  #endLooks = 0
  /** the client's request trailers (after its body), passed on at the body's end */
  #requestTrailers: OutgoingHttpHeaders | undefined
  /** monotonic ms the node last moved the exchange on (proxy.idle_timeout counts from it while nothing waits for the client) */
  #moved = 0
  /** the node's answer is paused until the client takes what it was sent */
  #waitingOnClient = false
  /** the client's stream writes its queue one piece at a time (its writev is off: see #piecemeal) */
  #piecewise = false
  /** bytes written to the client's stream (the answer's body) */
  #written = 0
  /** of those, the bytes the client had taken (left the stream's queue) at the last look */
  #taken = 0
  /**
   * monotonic ms the client last took some of the bytes waiting for it, or got bytes to
   * take while none waited: proxy.idle_timeout counts from it while bytes wait for it
   */
  #tookAt = 0
  /** the client's body is held until the node's side takes more (from the start of an attempt until its first drain) */
  #waitingOnNode = true
  /** the request body read so far, while it is all there and under KEEP_FOR_RETRY and no answer began; else null */
  #kept: Buffer[] | null = []
  #keptBytes = 0
  /** the attempt is a retry whose node must get the kept body first (at its first drain) */
  #replay = false

  constructor(ctx: StreamContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, remote: string | undefined, https: boolean) {
    this.#ctx = ctx
    this.#stream = stream
    this.#headers = headers
    this.#remote = remote
    this.#https = https
    this.#start = ctx.fw.clock.monotonic()
    this.#grpc = isGrpcContentType(headers['content-type'])
    this.#clientEnded = stream.readableEnded || stream.endAfterHeaders
  }

  /** Route the stream and send it to its first node. */
  start(): void {
    const fw = this.#ctx.fw
    const stream = this.#stream
    stream.on('close', this.#onClientClose)
    stream.on('error', ignore)
    this.#pool = pickPool(fw.router.table, this.#headers, this.#remote, fw.random)
    fw.inflight++
    const max = fw.proxy.max_inflight
    if (max > 0 && fw.inflight > max) {
      fw.onShed?.()
      this.#answer(ANSWERS.overloaded, true)
      return
    }
    if (this.#headers[':method'] === 'CONNECT') {
      this.#answer(NO_CONNECT)
      return
    }
    const length = Number(this.#headers['content-length'])
    if (fw.proxy.max_body_size > 0 && length > fw.proxy.max_body_size) {
      this.#answer(ANSWERS.bodyTooLarge)
      return
    }
    let node = fw.firstNode(this.#pool)
    if (node !== undefined && this.#grpc && h2Closed(node, fw.clock.now())) {
      // gRPC needs an h2 listener: another node's, when this one has none or it is ejected
      node = firstNode(fw.router.table, this.#pool, fw.random, withClosedH2(fw.router.table, fw.clock.now(), [])) ?? node
    }
    if (node === undefined) {
      this.#answer(ANSWERS.noNode)
      return
    }
    stream.on('data', this.#onClientData)
    // trailers that came with the first frames, before this exchange listened (keepEarlyTrailers)
    const early = earlyTrailers.get(stream)
    stream.off('trailers', onEarlyTrailers)
    if (early !== undefined) this.#onClientTrailers(early)
    else stream.on('trailers', this.#onClientTrailers)
    stream.on('end', this.#onClientEnd)
    stream.on('drain', this.#onClientDrain)
    this.#shadow = StreamCopy.pick(fw.shadow, this.#pool, stream, this.#headers, this.#clientEnded)
    // the body waits in the stream (under its flow-control window) until a node is there
    stream.pause()
    this.#try(node)
  }

  // ---- attempts ----

  #try(node: UpstreamNode): void {
    const ctx = this.#ctx
    const fw = ctx.fw
    this.#node = node
    this.#lastNode = node
    this.#pool = node.pool
    this.#attempts++
    node.inflight++
    fw.sink.attemptStarted(node)
    this.#stage = Stage.Connecting
    this.#waitingOnNode = true
    // a retry after some of the body was read: the node gets the kept body first (drain)
    this.#replay = this.#bodyBytes > 0
    this.#arm(fw.proxy.connect_timeout)
    // a stream that is not gRPC goes to the node's url while its h2 listener is ejected
    const sessions = this.#grpc || node.h2EjectedUntil <= fw.clock.now() ? ctx.nodes.sessions(node) : undefined
    this.#via = sessions !== undefined ? 'h2' : 'http1'
    let attempt: NodeAttempt
    if (sessions !== undefined) {
      const a = new H2Attempt(sessions, this.#h2Headers(node), this.#clientEnded && this.#bodyBytes === 0 && this.#requestTrailers === undefined, this)
      attempt = a
      this.#attempt = a
      a.start()
      if (this.#clientEnded && !this.#replay) a.end(this.#requestTrailers)
    } else if (this.#grpc) {
      // gRPC needs HTTP/2 end to end and no usable node has an h2 address: a gap in the
      // config, not a failure of this node (a client could otherwise eject a healthy
      // HTTP/1.1 node, and feed its pool's gate, by calling gRPC at it)
      this.#attempt = null
      this.#endAttempt()
      ctx.noH2Node.warn({ pool: node.pool, node: node.name })
      this.#answer(NO_H2_NODE)
      return
    } else {
      attempt = new H1Attempt(node.config, ctx.nodes.agent(node), String(this.#headers[':method']), String(this.#headers[':path'] ?? '/'), this.#h1Headers(), this, fw.clock, fw.proxy.connect_timeout)
      this.#attempt = attempt
      if (this.#clientEnded && !this.#replay) attempt.end(this.#requestTrailers)
    }
    if (this.#attempt === attempt && this.#stage === Stage.Connecting) {
      // the request head is out (or queued on the session): from now on it is the node's
      // time, request_timeout from the end of the request; until then the body must keep moving
      this.#stage = Stage.Waiting
      this.#moved = fw.clock.monotonic()
      this.#arm(this.#clientEnded ? fw.proxy.request_timeout : fw.proxy.idle_timeout)
    }
  }

  /** The request for a node's h2 listener: the client's headers, hop-by-hop ones dropped, X-Forwarded-* set. */
  #h2Headers(node: UpstreamNode): OutgoingHttpHeaders {
    const h = this.#headers
    const authority = (h[':authority'] as string | undefined) ?? h.host ?? node.config.h2!.authority
    const out: OutgoingHttpHeaders = {
      ':method': h[':method'],
      ':path': h[':path'],
      ':scheme': node.config.h2!.tls ? 'https' : 'http',
      ':authority': authority,
    }
    this.#copyHeaders(out, authority)
    // gRPC servers want it; it is the only TE value HTTP/2 allows
    if (h.te === 'trailers') out.te = 'trailers'
    return out
  }

  /** The request for a node's HTTP/1.1 url: Host from :authority. */
  #h1Headers(): OutgoingHttpHeaders {
    const h = this.#headers
    const authority = (h[':authority'] as string | undefined) ?? h.host ?? this.#node!.name
    const out: OutgoingHttpHeaders = { host: authority }
    this.#copyHeaders(out, authority)
    return out
  }

  #copyHeaders(out: OutgoingHttpHeaders, authority: string): void {
    const h = this.#headers
    for (const name in h) {
      if (name.charCodeAt(0) === 0x3a || CONNECTION_HEADERS.has(name) || name.startsWith('x-forwarded-')) continue
      out[name] = h[name]
    }
    const xff = h['x-forwarded-for']
    const client = this.#remote ?? ''
    out['x-forwarded-for'] = xff === undefined || xff === '' ? client : `${Array.isArray(xff) ? xff.join(', ') : xff}, ${client}`
    out['x-forwarded-proto'] = this.#https ? 'https' : 'http'
    out['x-forwarded-host'] = authority
  }

  // ---- the request body ----

  #onClientData = (chunk: Buffer): void => {
    const attempt = this.#attempt
    if (attempt === null || this.#stage === Stage.Done) return
    const max = this.#ctx.fw.proxy.max_body_size
    this.#bodyBytes += chunk.length
    if (max > 0 && this.#bodyBytes > max) {
      this.#abortUpload(ANSWERS.bodyTooLarge)
      return
    }
    // a body on its way, either way, keeps the exchange alive (a bidi gRPC call, an echo)
    if (this.#stage === Stage.Waiting || this.#stage === Stage.Streaming) this.#moved = this.#ctx.fw.clock.monotonic()
    if (this.#kept !== null) {
      // Node gives each read its own buffer, never written again: kept as it is, or copied
      // when it is a small view of a larger one (a body in tiny frames would pin many)
      if (this.#keptBytes + chunk.length <= KEEP_FOR_RETRY) {
        this.#kept.push(chunk.length * 2 < chunk.buffer.byteLength ? Buffer.from(chunk) : chunk)
        this.#keptBytes += chunk.length
      } else {
        this.#kept = null
      }
    }
    if (!attempt.write(chunk)) {
      this.#waitingOnNode = true
      this.#stream.pause()
    }
  }

  #onClientTrailers = (headers: IncomingHttpHeaders): void => {
    const trailers = cleanTrailers(headers)
    for (const _ in trailers) {
      this.#requestTrailers = trailers
      return
    }
  }

  #onClientEnd = (): void => {
    // Node ends the readable side alike for the client's END_STREAM and for its
    // RST_STREAM(NO_ERROR) halfway through the body; only the first makes the body whole.
    // A stream reset while cutover's side was still open is marked aborted (before its end
    // is read): the node must not get half a body as whole. Its 'close' follows, and ends it
    if (this.#stream.aborted) return
    this.#clientEnded = true
    // a retry whose kept body is not replayed yet: the replay ends it (drain); ending it now
    // would send the node a request without its body (to an HTTP/1.1 node, Content-Length: 0)
    if (this.#attempt !== null && this.#stage !== Stage.Done && !this.#replay) this.#attempt.end(this.#requestTrailers)
    // the request is whole: the node has request_timeout to answer from now
    if (this.#stage === Stage.Waiting) this.#arm(this.#ctx.fw.proxy.request_timeout)
  }

  /** The node's side takes body bytes (again); the first call lets the body flow at all. */
  drain(): void {
    const attempt = this.#attempt
    if (this.#stage === Stage.Done || attempt === null) return
    if (this.#waitingOnNode) {
      this.#waitingOnNode = false
      this.#moved = this.#ctx.fw.clock.monotonic()
      if (this.#replay) {
        // a retry: the body read so far first, then the rest as it comes
        this.#replay = false
        let ok = true
        for (const chunk of this.#kept!) ok = attempt.write(chunk)
        if (this.#clientEnded) attempt.end(this.#requestTrailers)
        if (!ok) {
          this.#waitingOnNode = true
          return
        }
      }
    }
    this.#stream.resume()
  }

  // ---- the response (AttemptUser) ----

  informational(headers: OutgoingHttpHeaders): void {
    if (this.#stage === Stage.Waiting && !this.#stream.headersSent) this.#stream.additionalHeaders(headers)
  }

  response(status: number, headers: OutgoingHttpHeaders, endStream: boolean): void {
    const fw = this.#ctx.fw
    const stream = this.#stream
    if (!stream.destroyed) {
      try {
        stream.respond(headers, endStream ? { endStream: true } : { waitForTrailers: true })
      } catch (err) {
        // a head an h2 client cannot take (a bad name or value, a status outside 100-599
        // from an HTTP/1.1 node): Node refused it before a byte went, so the client gets
        // cutover's 502, not a reset with no answer; nor is it counted as answered
        this.#attempt?.abort()
        this.#failed('protocol', err as Error)
        return
      }
    }
    this.#status = status
    this.#stage = Stage.Streaming
    // an answer began: never sent again
    this.#kept = null
    const now = fw.clock.monotonic()
    // the body must keep moving (proxy.idle_timeout); end() and the failures disarm it
    this.#moved = now
    this.#tookAt = now
    if (endStream) this.#disarm()
    else this.#arm(fw.proxy.idle_timeout)
    this.#headersMs = now - this.#start
    if (this.#grpc) this.#grpcStatus = parseGrpcStatus(headers['grpc-status'] as string | undefined)
    // a gRPC call is judged when its status is known (trailers); anything else now
    else fw.sink.answered(this.#node!, status, this.#headersMs, false, this.#via)
    if (stream.destroyed) return
    if (!endStream) {
      this.#trailersDue = true
      stream.once('wantTrailers', this.#sendTrailers)
      // a gRPC answer (a server or bidi stream may last hours) or an event stream follows the split (fw.cutLongLived)
      if (this.#grpc || isEventStreamType(headers['content-type'])) {
        this.#held = true
        fw.longLived.add(this)
      }
    }
    this.#shadow?.respond(this.#pool, status, headers, this.#remote)
  }

  data(chunk: Buffer): void {
    const now = this.#ctx.fw.clock.monotonic()
    this.#moved = now
    this.#shadow?.body(chunk)
    const stream = this.#stream
    if (stream.destroyed) return
    if (stream.writableLength === 0) {
      // the client owes nothing until now when nothing waited for it
      this.#tookAt = now
      if (this.#piecewise) this.#gathered()
    } else {
      this.#clientTook(now)
      // bytes still wait for the client: what queues behind them goes one piece at a time
      if (!this.#piecewise) this.#piecemeal()
    }
    this.#written += chunk.length
    // in pieces of a DATA frame at most: a write's bytes leave writableLength when all of
    // them went, so a slow reader's progress shows at this grain (#clientTook)
    let ok = true
    if (chunk.length <= DATA_PIECE) ok = stream.write(chunk)
    else for (let at = 0; at < chunk.length; at += DATA_PIECE) ok = stream.write(chunk.subarray(at, at + DATA_PIECE))
    if (!ok) {
      this.#waitingOnClient = true
      if (!this.#piecewise) this.#piecemeal()
      this.#attempt?.pause()
    }
  }

  /**
   * While a queue waits for the client, its pieces go one write each: gathered into one
   * writev, all of its bytes leave writableLength only once the last of them went, and a
   * client taking them slowly (a window opened a little at a time) would show no progress
   * for as long as the whole batch takes, and be cut as stalled (#clientIdle).
   */
  #piecemeal(): void {
    this.#piecewise = true
    ;(this.#stream as Writev)._writev = undefined
  }

  /** The queue went: pieces may be gathered again. */
  #gathered(): void {
    this.#piecewise = false
    delete (this.#stream as Writev)._writev
  }

  #onClientDrain = (): void => {
    if (this.#stage !== Stage.Streaming) return
    if (this.#waitingOnClient) {
      this.#waitingOnClient = false
      if (this.#piecewise) this.#gathered()
      this.#moved = this.#ctx.fw.clock.monotonic()
    }
    this.#attempt?.resume()
  }

  trailers(headers: IncomingHttpHeaders): void {
    this.#trailers = cleanTrailers(headers)
    if (this.#grpc) this.#grpcStatus = parseGrpcStatus(headers['grpc-status'])
  }

  #sendTrailers = (): void => {
    const stream = this.#stream
    this.#trailersDue = false
    if (stream.destroyed) return
    // no trailers from the node: an empty DATA frame with END_STREAM (Node's way)
    stream.sendTrailers(this.#trailers ?? {})
    // Node submits them in a setImmediate (queued before this one) and writes them out in
    // one of its own after that: the reset that ends an early answer waits for them (end)
    if (this.#closeAfterEnd) setImmediate(afterTrailersSubmitted, this.#closeWhenEnded)
  }

  /**
   * An early answer's END_STREAM (its trailers, or the empty DATA frame) was submitted: the
   * client is told to stop sending once nghttp2 wrote it out (the stream's state says its
   * local side is closed), never before, or the reset would drop it. Node writes it in an
   * immediate of its own, or after the session's write in progress: looked at again on the
   * next turns, then every END_LOOK_MS. An END_STREAM held by the client's flow-control
   * window (an empty DATA frame at a window of 0) goes when the client opens it, or the
   * tail watch (#tailExpired) cuts the stream, which stops the looking.
   */
  #closeWhenEnded = (): void => {
    const stream = this.#stream
    if (stream.destroyed || stream.closed) return
    if (localClosed(stream)) {
      closeUnread.call(stream)
      return
    }
    if (++this.#endLooks < END_LOOK_TURNS) setImmediate(this.#closeWhenEnded)
    else this.#ctx.fw.clock.setTimeout(this.#closeWhenEnded, END_LOOK_MS)
  }

  end(): void {
    const fw = this.#ctx.fw
    const node = this.#node!
    if (this.#grpc) {
      // no grpc-status: a client makes one from the HTTP status (gRPC's http-grpc-status-mapping:
      // a balancer's 503 in front of the service is UNAVAILABLE), and the call counts as that
      if (this.#grpcStatus < 0) this.#grpcStatus = this.#status === 200 ? GRPC_NO_STATUS : grpcStatusForHttp(this.#status)
      fw.sink.answered(node, this.#status, this.#headersMs, isGrpcFailure(this.#grpcStatus, this.#ctx.grpcFailures), this.#via)
    }
    this.#endAttempt()
    const stream = this.#stream
    if (!stream.destroyed && !stream.writableEnded) stream.end()
    if (!this.#clientEnded) {
      // the node answered before the request body was whole: the rest of it goes nowhere.
      // The node's side is closed, and the client is told to stop sending with
      // RST_STREAM(NO_ERROR) after the answer's END_STREAM (RFC 9113 8.1)
      this.#attempt?.abandon()
      // With trailers due, the answer's END_STREAM is theirs (or an empty DATA frame's),
      // which Node sends only on a stream not closed yet, after 'finish': the reset waits
      // for them (#sendTrailers); a reset on 'finish' left the answer without its end and
      // its trailers (a gRPC status), as it still does below Node 24 (EARLY_END_KEPT).
      // Otherwise once the answer's bytes went (Node's
      // close(NO_ERROR) would wait for them too, but with the stream marked closed:
      // #tailExpired could not reset it any more)
      if (this.#trailersDue && EARLY_END_KEPT) this.#closeAfterEnd = true
      else if (stream.writableFinished) closeUnread.call(stream)
      else if (!stream.destroyed) stream.once('finish', closeUnread)
    }
    this.#attempt = null
    this.#shadow?.end()
    this.#finish(this.#status)
  }

  // ---- failures ----

  failed(kind: FailureKind, err: Error | undefined): void {
    this.#failed(kind, err)
  }

  #failed(kind: FailureKind, err: Error | undefined): void {
    if (this.#stage === Stage.Done) return
    const fw = this.#ctx.fw
    const node = this.#node!
    fw.sink.attemptFailed(node, kind, this.#via)
    // a node whose certificate cannot be trusted is a setup error, not a passing failure: say so
    // (at most max_failures times per ejection: the h2 listener is ejected after that)
    if (isCutoverError(err, 'CUTOVER_ERR_UPSTREAM_TLS')) fw.logger.warn({ node: node.name, pool: node.pool, code: err.code, err: err.message }, 'h2 node not trusted')
    const why = errorWhy(err, this.#expiredWhy(kind))
    const bodySent = this.#attempt?.bodySent === true || this.#bodyBytes > 0
    this.#attempt = null
    this.#endAttempt()
    if (this.#status !== 0) {
      fw.failures.note(node, kind, why, 'cut', 'h2')
      this.#broken()
      return
    }
    this.#stream.pause()
    // body bytes read from the client and not kept are gone: such a request cannot be sent
    // again; a kept body goes again only where the node never processed it ('connect')
    if (!this.#stream.destroyed && (this.#bodyBytes === 0 || (kind === 'connect' && this.#kept !== null))) {
      const tried = (this.#tried ??= [])
      tried.push(node)
      const method = String(this.#headers[':method'])
      // gRPC needs an h2 listener: not one that is ejected
      const skip = this.#grpc ? withClosedH2(fw.router.table, fw.clock.now(), tried) : tried
      const next = fw.nextNode({ failed: node, kind, attempts: this.#attempts, tried: skip, idempotent: isIdempotent(method) && !this.#grpc, bodySent })
      if (next !== undefined) {
        fw.failures.note(node, kind, why, { retried: next }, 'h2')
        this.#try(next)
        return
      }
    }
    const answer = failureAnswer(kind)
    fw.failures.note(node, kind, why, this.#stream.destroyed ? 'client gone' : { answered: answer.status }, 'h2')
    this.#answer(answer)
  }

  /** A failure with no error to say what happened: a time limit passed (#expired). */
  #expiredWhy(kind: FailureKind): string {
    if (kind === 'connect') return 'no connection within connect_timeout'
    if (this.#stage === Stage.Streaming) return 'the body of the answer stood still for idle_timeout'
    return this.#clientEnded ? 'no response head within request_timeout' : 'took nothing of the request body for idle_timeout'
  }

  /**
   * In line for a connection of a node that must take no more traffic (a rollback, maint,
   * removed by a reload): nothing of the request went to it, so it is routed again, as a new
   * stream would be now; the attempt does not count against the retries. Stays in line
   * when routing picks the same node.
   */
  moved(): void {
    const fw = this.#ctx.fw
    const node = this.#node
    if (this.#stage === Stage.Done || this.#status !== 0 || node === null || this.#bodyBytes > 0) return
    const next = fw.firstNode(pickPool(fw.router.table, this.#headers, this.#remote, fw.random))
    if (next === node) return
    this.#attempt?.abort()
    this.#attempt = null
    this.#endAttempt()
    this.#attempts--
    if (next !== undefined) this.#try(next)
    else this.#answer(ANSWERS.noNode)
  }

  /** The response had started and cannot be finished: a gRPC call ends UNAVAILABLE, anything else is reset. */
  #broken(message = 'upstream connection broken', code = NGHTTP2_INTERNAL_ERROR): void {
    const stream = this.#stream
    if (this.#grpc && stream.headersSent && !stream.destroyed && !stream.writableEnded) {
      this.#grpcStatus = GRPC_UNAVAILABLE
      this.#trailers = { 'grpc-status': String(GRPC_UNAVAILABLE), 'grpc-message': message }
      stream.end()
    } else if (!stream.destroyed) {
      stream.close(code)
    }
    this.#finish(this.#status)
  }

  get node(): UpstreamNode | null {
    return this.#node
  }

  get kind(): LongLivedKind {
    return this.#grpc ? 'grpc' : 'event-stream'
  }

  /**
   * The answer's node must not carry traffic any more (a rollback, maint): the node's
   * stream is cancelled, not blamed; a gRPC call ends UNAVAILABLE (clients call again, and
   * land where the split sends them now), an event stream is reset (EventSource reconnects).
   */
  cut(): void {
    if (this.#stage === Stage.Done || this.#node === null) return
    this.#attempt?.abort()
    this.#attempt = null
    this.#endAttempt()
    this.#broken('cutover moved traffic off this node: call again', NGHTTP2_CANCEL)
  }

  /** request_timeout, connect_timeout or (the answer's body standing still) idle_timeout passed. */
  #expired = (): void => {
    this.#timer = null
    const attempt = this.#attempt
    if (attempt === null || this.#stage === Stage.Done) return
    if (this.#stage === Stage.Streaming && this.#stream.writableLength > 0) {
      // bytes wait for the client: it is judged by whether it takes them, whatever the node
      // sends meanwhile (a slow event stream queues a few bytes at a time)
      if (this.#clientIdle()) this.#clientStalled()
      return
    }
    if (this.#stage === Stage.Streaming || (this.#stage === Stage.Waiting && !this.#clientEnded)) {
      // a body on its way, either way: idle_timeout's turn
      if (!this.#stoodStill()) return
      if (!this.#clientEnded && !this.#waitingOnNode) {
        // the client stopped sending the body the node waits for (the node's side can take
        // more and nothing comes): not the node's failure
        this.#clientStalled()
        return
      }
    }
    const kind: FailureKind = this.#stage === Stage.Connecting || !attempt.connected ? 'connect' : 'timeout'
    attempt.abort()
    this.#failed(kind, undefined)
  }

  /** Whether the body stood still for idle_timeout; if not, look again when it could have. */
  #stoodStill(): boolean {
    const idle = this.#ctx.fw.proxy.idle_timeout
    const still = this.#ctx.fw.clock.monotonic() - this.#moved
    if (still >= idle) return true
    this.#arm(idle - still)
    return false
  }

  /**
   * Whether the client took nothing of what waits for it for idle_timeout; if it took some
   * since (its flow-control window opened: a slow reader is not a stalled one), look again
   * idle_timeout after that.
   */
  #clientIdle(): boolean {
    const now = this.#ctx.fw.clock.monotonic()
    this.#clientTook(now)
    const idle = this.#ctx.fw.proxy.idle_timeout
    const still = now - this.#tookAt
    if (still >= idle) return true
    this.#arm(idle - still, this.#stage === Stage.Done ? this.#tailExpired : this.#expired)
    return false
  }

  /** Notes when the client took bytes since the last look (written bytes that left the stream's queue). */
  #clientTook(now: number): void {
    const taken = this.#written - this.#stream.writableLength
    if (taken > this.#taken) {
      this.#taken = taken
      this.#tookAt = now
    }
  }

  /** The client took nothing of the answer (the stream is cut), or sent nothing of its body (408), for idle_timeout. */
  #clientStalled(): void {
    if (this.#stage === Stage.Waiting) {
      this.#abortUpload(ANSWERS.bodyTimeout)
      return
    }
    const attempt = this.#attempt
    this.#attempt = null
    attempt?.abort()
    this.#endAttempt()
    this.#broken()
  }

  #onClientClose = (): void => {
    if (this.#stage === Stage.Done) {
      // the answer's last bytes went, or the stream was cut (#watchTail)
      this.#disarm()
      return
    }
    const attempt = this.#attempt
    this.#attempt = null
    attempt?.abort()
    if (this.#node !== null) this.#endAttempt()
    this.#finish(this.#status || CLIENT_CLOSED)
  }

  #abortUpload(answer: ProxyAnswer): void {
    const attempt = this.#attempt
    this.#attempt = null
    attempt?.abort()
    if (this.#node !== null) this.#endAttempt()
    if (this.#status !== 0) {
      if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL)
      this.#finish(this.#status)
    } else {
      this.#answer(answer)
    }
  }

  // ---- cutover's own answers and the end ----

  /**
   * cutover's own error (src/answers.ts): its JSON {message} with its status; for gRPC a
   * trailers-only answer with the matching grpc-status (UNAVAILABLE for 502, 503, 504).
   */
  #answer(answer: ProxyAnswer, retryAfter = false): void {
    const stream = this.#stream
    // x gave no answer for the copy (not a 408, 413 or 400: the client's doing)
    if (answer.status === 502 || answer.status === 503 || answer.status === 504) this.#shadow?.xFailed()
    if (!stream.destroyed && !stream.headersSent) {
      try {
        if (this.#grpc) {
          this.#grpcStatus = grpcStatusForHttp(answer.status)
          const message = (JSON.parse(answer.body.toString()) as { message: string }).message
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(this.#grpcStatus), 'grpc-message': encodeURIComponent(message) }, { endStream: true })
        } else {
          const headers: OutgoingHttpHeaders = { ':status': answer.status, 'content-type': 'application/json', 'content-length': answer.body.length }
          if (retryAfter) headers['retry-after'] = '1'
          stream.respond(headers)
          this.#written += answer.body.length
          stream.end(answer.body)
        }
        // answered before the request was read (a CONNECT, an upload over the limit): the
        // client may keep its side open; once the answer is out, end the stream with
        // NO_ERROR, as RFC 9113 section 8.1 allows, so neither side waits on it
        if (!stream.readableEnded) stream.once('finish', closeUnread)
      } catch {
        stream.close(NGHTTP2_INTERNAL_ERROR)
      }
    }
    this.#finish(answer.status)
  }

  #endAttempt(): void {
    const node = this.#node
    if (node === null) return
    if (this.#held) {
      this.#held = false
      this.#ctx.fw.longLived.delete(this)
    }
    this.#node = null
    this.#disarm()
    node.inflight--
    this.#ctx.fw.sink.attemptEnded(node)
  }

  #finish(status: number): void {
    if (this.#stage === Stage.Done) return
    this.#stage = Stage.Done
    this.#disarm()
    this.#shadow?.abort()
    const fw = this.#ctx.fw
    fw.inflight--
    const ms = this.#headersMs >= 0 ? this.#headersMs : fw.clock.monotonic() - this.#start
    fw.sink.finished(this.#pool, status, ms, 'h2', this.#grpc ? this.#grpcStatus : NO_GRPC)
    const access = fw.accessLog
    if (access !== undefined) {
      const h = this.#headers
      access.record({
        method: String(h[':method']),
        path: String(h[':path']),
        host: (h[':authority'] as string | undefined) ?? h.host,
        client: this.#remote,
        pool: this.#pool,
        node: this.#lastNode?.name ?? null,
        status,
        ms,
        attempts: this.#attempts,
        protocol: 'h2',
        ...(this.#grpc && { grpc_status: this.#grpcStatus }),
      })
    }
    // the answer is over for the node, but its last bytes may still wait on the client's window
    if (!this.#stream.destroyed && !this.#stream.closed) this.#watchTail()
  }

  /**
   * The answer's last bytes, queued for a client after the exchange ended (the node's whole
   * answer, cutover's own), must keep moving as the rest did (idle_timeout): a client that
   * takes nothing of them for that long has its stream cut (it never reads the answer as
   * whole); before, the stream and its connection were held for ever. The last of them is
   * the empty DATA frame with END_STREAM (waitForTrailers), which nghttp2 holds while the
   * stream's window is 0: a client that opened a window for the body and not a byte more
   * never had its stream end. A stream that closes in time clears the watch (#onClientClose).
   */
  #watchTail(): void {
    const now = this.#ctx.fw.clock.monotonic()
    // nothing waited for the client (bar the END_STREAM the window holds): it owes nothing until now
    if (this.#stream.writableLength === 0 || this.#status === 0) this.#tookAt = now
    this.#arm(this.#ctx.fw.proxy.idle_timeout - (now - this.#tookAt), this.#tailExpired)
  }

  #tailExpired = (): void => {
    this.#timer = null
    const stream = this.#stream
    if (stream.destroyed || stream.closed) return
    // a slow reader is not a stalled one
    if (this.#clientIdle()) stream.close(NGHTTP2_INTERNAL_ERROR)
  }

  /**
   * then() once ms passed and the I/O ready by then was read (Clock.afterIo: a deadline is
   * not judged before an answer that came in time); not if disarmed or armed again meanwhile.
   */
  #arm(ms: number, then = this.#expired): void {
    this.#disarm()
    const clock = this.#ctx.fw.clock
    const timer = clock.setTimeout(
      () =>
        clock.afterIo(() => {
          if (this.#timer === timer) then()
        }),
      Math.max(0, ms),
    )
    this.#timer = timer
  }

  #disarm(): void {
    if (this.#timer !== null) {
      this.#ctx.fw.clock.clearTimeout(this.#timer)
      this.#timer = null
    }
  }
}

function ignore(): void {}
