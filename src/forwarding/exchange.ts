/**
 * One client request on its way: an attempt on a node's connection (retried on another
 * node when routing/fallback.ts allows), the request head and body written to it, the
 * response head parsed and written again for the client, the body relayed with
 * backpressure both ways, and every step reported to the outcome sink.
 */

import type { PoolName } from '../config/types.js'
import { latin1 } from '../http1/chars.js'
import { ChunkedDecoder, parseResponseHead, type RequestHead, type ResponseHead } from '../http1/index.js'
import type { FailureKind } from '../outcome/outcome-sink.js'
import type { ShadowCopy } from '../shadow/tap.js'
import { isIdempotent } from '../routing/fallback.js'
import type { ConnectionUser, UpstreamConnection } from '../upstream/connection.js'
import type { UpstreamNode } from '../upstream/node.js'
import { idleLimitOf, type PoolWaiter } from '../upstream/node-pool.js'
import { type Holder, READ_SIZE } from '../upstream/read-buffers.js'
import { badRequestBytes, CONTINUE, failureAnswer, failureBytes, forMethod, kept, RAW } from './answers.js'
import type { ClientSide } from './client-side.js'
import { recordRequest } from './access-log.js'
import { errorWhy } from './failure-log.js'
import { CLIENT_CLOSED, type Forwarder, type LongLived, type LongLivedKind } from './forwarder.js'
import { Phase } from './phase.js'
import { authority, ClientFraming, clientResponseHead, interimHead, isEventStream, LAST_CHUNK, MAX_RESPONSE_HEAD, upstreamRequestHead } from './headers.js'

/** a body that arrived with its head and is at most this long is written with the head as one string */
const SMALL_BODY = 8192
/**
 * bytes a client socket may queue before its node is no longer read: two reads' worth, so
 * that a 64 KiB answer the client takes in pieces does not stop and restart the node's
 * reads every time (nginx holds its proxy buffers the same way)
 */
export const MAX_QUEUED = 2 * READ_SIZE

const enum Stage {
  /** between attempts */
  Idle,
  /** waiting for a connection at the node's cap */
  Queued,
  Connecting,
  /** the request went out; the response head has not come back yet */
  Waiting,
  /** the response head was written to the client; its body is on its way (proxy.idle_timeout while it stands still) */
  Streaming,
}

const enum Body {
  None,
  Length,
  Chunked,
  /** read until the node closes */
  Close,
}

export class Exchange implements PoolWaiter, ConnectionUser, LongLived {
  readonly fw: Forwarder
  readonly client: ClientSide
  readonly head: RequestHead
  /** monotonic ms when the request head was read */
  readonly start: number
  /** the pool of the node in use, or the one picked */
  pool: PoolName
  node: UpstreamNode | null = null
  /** the node of the latest attempt, kept for the access log */
  lastNode: UpstreamNode | null = null
  tried: UpstreamNode[] | null = null
  attempts = 0
  conn: UpstreamConnection | null = null
  stage = Stage.Idle
  /** monotonic ms: queue, connect or request deadline; 0 = none */
  deadline = 0
  /** the head written to the node (the same for every attempt) */
  #requestHead: string | null = null
  /**
   * a chunked body without payload: its last chunk (and trailers), read whole before any
   * byte of it counted as sent, so a retry (which only a body not yet sent allows) writes
   * it again behind the head: without it the node would wait for the body's end
   */
  #emptyBodyEnd: string | null = null
  /** some of the body went to a node */
  bodySent = false
  /** the whole request (head and body) went to the node of this attempt */
  requestComplete = false
  #sentContinue = false
  // response
  #rbuf: Buffer | null = null
  /** the status the client got; 0 before the response head was written */
  status = 0
  #body = Body.None
  #left = 0
  #decoder: ChunkedDecoder | null = null
  /** relay the chunked body's payload only (an HTTP/1.0 client) */
  #dechunk = false
  /**
   * a body read until the node closes, relayed chunked (an HTTP/1.1 client, as nginx does):
   * the client keeps its connection, and a body the node cut reads as cut without a reset
   */
  #rechunk = false
  #nodeKeepAlive = false
  /** the node sent bytes past the body: its connection is not reused */
  #extra = false
  /** the client connection closes after this answer */
  #closeClient = false
  /** the node's socket is paused until the client takes what it was sent */
  #waitingOnClient = false
  /** while waiting on the client: its backlog (ClientSide.unsent) at the last look */
  #clientBacklog = 0
  /** the client is paused until the node takes the body bytes it was sent */
  #waitingOnNode = false
  /** the answer is a server-sent event stream, in fw.longLived until it ends */
  #held = false
  /** the copy of this request sent to y (issue 13): fed x's body as it is relayed; null when not shadowed */
  #shadow: ShadowCopy | null = null
  /** ms from arrival to the response head; -1 until then */
  headersMs = -1
  clientGone = false
  done = false

  constructor(client: ClientSide, head: RequestHead, pool: PoolName, start: number) {
    this.fw = client.fw
    this.client = client
    this.head = head
    this.pool = pool
    this.start = start
    this.requestComplete = head.framing.kind === 'none'
    this.fw.inflight++
    // sampled now: a copy with a body buffers it as it goes to x
    if (this.fw.shadow !== null && pool === 'x') this.#shadow = this.fw.shadow.pick(head)
  }

  // ---- attempts ----

  /** Start an attempt on node; now: the monotonic ms, when the caller has just read it. */
  attempt(node: UpstreamNode, now = this.fw.clock.monotonic()): void {
    const fw = this.fw
    if (this.bodySent && this.#shadow !== null) {
      // a body sent again would be buffered twice
      this.#shadow.abort()
      this.#shadow = null
    }
    this.node = node
    this.lastNode = node
    this.pool = node.pool
    this.attempts++
    this.#waitingOnNode = false
    node.inflight++
    fw.sink.attemptStarted(node)
    this.stage = Stage.Queued
    // waiting for a free connection counts against request_timeout
    this.deadline = now + fw.proxy.request_timeout
    const conn = node.dispatcher.acquire(this, now)
    if (conn !== null) this.#granted(conn, now)
  }

  /**
   * Waiting in line for a connection of a node that must not take traffic any more (its
   * pool's share fell to 0, it went into maint, a reload removed it): nothing of the request
   * went anywhere yet, so it is routed again, as a new request would be now. Its attempt
   * does not count against the retries. Stays in line when routing picks the same node.
   */
  moved(): void {
    const fw = this.fw
    const node = this.node
    if (this.stage !== Stage.Queued || node === null || this.done) return
    const next = fw.firstNode(fw.pickPool(this.head, this.client.remoteAddress))
    if (next === node) return
    node.dispatcher.cancel(this)
    this.#endAttempt()
    this.attempts--
    if (next !== undefined) this.attempt(next)
    else this.#answer(503, kept(RAW.noNode, this.head.versionMinor), RAW.noNode.close)
  }

  /** The pool hands this waiting exchange a connection. */
  granted(conn: UpstreamConnection): void {
    this.#granted(conn, this.fw.clock.monotonic())
  }

  #granted(conn: UpstreamConnection, now: number): void {
    this.conn = conn
    conn.user = this
    if (conn.connected) {
      this.#sendHead(now)
    } else {
      this.stage = Stage.Connecting
      this.deadline = now + this.node!.dispatcher.connectTimeout
    }
  }

  onUpstreamConnect(): void {
    if (this.stage === Stage.Connecting) this.#sendHead(this.fw.clock.monotonic())
  }

  /**
   * Write the request head (and what the buffer holds of the body) as one write. The node
   * has request_timeout to answer from the end of the request; while its body is still on
   * its way, the body must keep moving (idle_timeout), however long the upload takes.
   */
  #sendHead(now: number): void {
    const fw = this.fw
    this.stage = Stage.Waiting
    this.deadline = now + (this.client.phase === Phase.Body ? fw.proxy.idle_timeout : fw.proxy.request_timeout)
    const conn = this.conn!
    conn.uses++
    const node = this.node!
    // the same head for every attempt, unless it names the node (a request without Host)
    const head = this.#requestHead ?? upstreamRequestHead(this.head, this.client.address, fw.https, false, authority(node))
    if (this.head.hostIndex >= 0) this.#requestHead = head
    const socket = conn.socket
    const client = this.client
    if (client.phase !== Phase.Body) {
      socket.write(this.#emptyBodyEnd === null ? head : head + this.#emptyBodyEnd, 'latin1')
      return
    }
    if (this.head.expectContinue && !this.#sentContinue && this.head.versionMinor === 1) {
      // the node is there and ready for the body: tell the client to send it
      this.#sentContinue = true
      client.write(CONTINUE)
    }
    socket.cork()
    socket.write(head, 'latin1')
    client.pumpBody()
    socket.uncork()
  }

  /** Can body bytes go to the node now? */
  canSend(): boolean {
    return this.conn !== null && (this.stage === Stage.Waiting || this.stage === Stage.Streaming)
  }

  /** One piece of the body; false when the node's buffer is full (the client is paused). */
  sendBody(piece: Buffer): boolean {
    this.bodySent = true
    if (this.#shadow !== null) this.#shadow.requestBody(piece)
    return this.#bodyMoved(this.conn!.socket.write(piece))
  }

  /** Body bytes went to the node (ok: its socket takes more): the upload is alive. */
  #bodyMoved(ok: boolean): boolean {
    if (this.stage === Stage.Waiting) this.#moving()
    if (!ok) this.#waitingOnNode = true
    return ok
  }

  /** A body moved, either way: idle_timeout counts from now. */
  #moving(): void {
    this.deadline = this.fw.clock.monotonic() + this.fw.proxy.idle_timeout
  }

  /**
   * Payload of a chunked body, framed again by cutover as one chunk (a client's chunk
   * sizes, extensions and spacing never reach the node); the last chunk carries the
   * trailers, checked by the decoder and written again.
   */
  sendChunks(decoder: ChunkedDecoder, payload: Buffer, last: boolean): boolean {
    const socket = this.conn!.socket
    let ok = true
    socket.cork()
    if (payload.length > 0) {
      this.bodySent = true
      if (this.#shadow !== null) this.#shadow.requestBody(payload)
      socket.write(payload.length.toString(16) + '\r\n', 'latin1')
      socket.write(payload)
      ok = socket.write('\r\n', 'latin1')
    }
    if (last) {
      let end = '0\r\n'
      const trailers = decoder.trailers
      for (let i = 0; i < trailers.length; i += 2) end += trailers[i] + ': ' + trailers[i + 1] + '\r\n'
      end += '\r\n'
      if (!this.bodySent) this.#emptyBodyEnd = end
      ok = socket.write(end, 'latin1')
    }
    socket.uncork()
    return this.#bodyMoved(ok)
  }

  /**
   * The node socket while it queues body bytes that sendBody or sendChunks wrote (their
   * memory is in use until that queue is empty), else null. A client that reads its body
   * into a reused buffer lends that buffer to it before the next read (ReadSlot.lend,
   * upstream/read-buffers.ts); a fresh buffer per read costs a full GC every ~64 MiB
   * uploaded (bench/README.md, "Uploads: the slow mode").
   */
  bodyHolder(): Holder | null {
    const socket = this.conn?.socket
    return socket !== undefined && socket.writableLength > 0 ? socket : null
  }

  /** The body went out whole: the node has request_timeout to answer from now. */
  requestSent(): void {
    this.requestComplete = true
    if (this.stage === Stage.Waiting) this.deadline = this.fw.clock.monotonic() + this.fw.proxy.request_timeout
    if (this.#shadow !== null) this.#shadow.requestEnd()
  }

  onUpstreamDrain(): void {
    if (this.#waitingOnNode) {
      this.#waitingOnNode = false
      if (this.stage === Stage.Waiting) this.#moving()
    }
    if (this.client.phase === Phase.Body) this.client.pumpBody()
  }

  onClientDrain(): void {
    if (this.conn === null) return
    if (this.#waitingOnClient) {
      this.#waitingOnClient = false
      if (this.stage === Stage.Streaming) this.#moving()
    }
    this.conn.socket.resume()
  }

  // ---- the response ----

  /** chunk: valid during this call only (the connection's reused read buffer) unless conn.retain() or conn.lend() was called */
  onUpstreamData(_conn: UpstreamConnection, chunk: Buffer): void {
    if (this.stage === Stage.Streaming) {
      this.#moving()
      if (this.#relay(chunk)) this.#responseDone()
    } else if (this.stage === Stage.Waiting) {
      this.#responseHead(chunk)
    }
  }

  #responseHead(chunk: Buffer): void {
    let buf = this.#rbuf === null ? chunk : Buffer.concat([this.#rbuf, chunk])
    this.#rbuf = null
    for (;;) {
      const r = parseResponseHead(buf, MAX_RESPONSE_HEAD, this.head.method)
      if (r.kind === 'partial') {
        this.#rbuf = buf
        // buf may be (a view of) the connection's read buffer: it is ours now
        this.conn!.retain()
        return
      }
      if (r.kind === 'refused') {
        this.#fail('protocol', null, `response head refused: ${r.reason}`)
        return
      }
      const res = r.head
      const rest = buf.subarray(r.length)
      if (res.status >= 200) {
        this.#respond(res, rest)
        return
      }
      if (res.status === 101) {
        // an upgrade nobody asked for
        this.#fail('protocol', null, 'answered 101 Switching Protocols to a request that asked for no upgrade')
        return
      }
      // 1xx interim answers (103 Early Hints) go on to an HTTP/1.1 client; a second 100 does not
      if (this.head.versionMinor === 1 && !(res.status === 100 && this.#sentContinue)) {
        this.client.write(interimHead(res))
        if (res.status === 100) this.#sentContinue = true
      }
      if (rest.length === 0) return
      buf = rest
    }
  }

  #respond(res: ResponseHead, rest: Buffer): void {
    const fw = this.fw
    const client = this.client
    this.status = res.status
    this.stage = Stage.Streaming
    const now = fw.clock.monotonic()
    // the body must keep moving (#responseDone clears it)
    this.deadline = now + fw.proxy.idle_timeout
    const ms = (this.headersMs = now - this.start)
    fw.sink.answered(this.node!, res.status, ms)
    if (this.#shadow !== null) {
      if (this.pool === 'x') this.#shadow.respond(res.status, res.headers, client.address)
      else {
        this.#shadow.abort() // gone over to y by a fallback: nothing to compare
        this.#shadow = null
      }
    }
    this.#nodeKeepAlive = res.keepAlive
    // the node keeps idle connections no longer than it says: reuse this one only within that
    const kept = res.keepAliveTimeout
    if (kept !== undefined && kept >= 0 && this.conn !== null) this.conn.idleLimit = idleLimitOf(kept)
    const http10 = this.head.versionMinor === 0
    // the request's own body still arriving: the connection cannot carry another request
    let close = !client.keepAlive || client.draining || client.ended || client.phase === Phase.Body
    let framing = ClientFraming.AsIs
    switch (res.framing.kind) {
      case 'length':
        this.#body = Body.Length
        this.#left = res.framing.length
        break
      case 'chunked':
        this.#body = Body.Chunked
        this.#decoder = new ChunkedDecoder()
        if (http10) {
          this.#dechunk = true
          close = true
        } else {
          framing = ClientFraming.Chunked
        }
        break
      case 'close':
        this.#body = Body.Close
        if (http10) {
          close = true
        } else {
          this.#rechunk = true
          framing = ClientFraming.Chunked
        }
        break
      default:
        this.#body = Body.None
        break
    }
    this.#closeClient = close
    // an event stream (never one with a length) lasts until cut: it follows the split (fw.cutLongLived)
    if ((this.#body === Body.Chunked || this.#body === Body.Close) && isEventStream(res)) {
      this.#held = true
      fw.longLived.add(this)
    }
    const head = clientResponseHead(res, framing, close, http10 && !close)
    const socket = client.socket
    let complete = this.#body === Body.None
    if (complete || rest.length === 0) {
      client.write(head)
      if (complete && rest.length > 0) this.#extra = true
    } else if (this.#body === Body.Length && rest.length <= this.#left && rest.length <= SMALL_BODY) {
      // the usual small answer: head and body as one latin1 string, one write (no writev)
      this.#left -= rest.length
      client.write(head + latin1(rest, 0, rest.length))
      if (this.#shadow !== null) {
        this.#shadow.body(rest)
        this.conn!.retain()
      }
      complete = this.#left === 0
    } else {
      socket.cork()
      client.write(head)
      complete = this.#relay(rest)
      socket.uncork()
    }
    if (complete && this.stage === Stage.Streaming) this.#responseDone()
  }

  /** Relay body bytes; true when the body is complete. */
  #relay(chunk: Buffer): boolean {
    const client = this.client
    let ok: boolean
    let complete = false
    switch (this.#body) {
      case Body.Length: {
        const take = Math.min(this.#left, chunk.length)
        if (take < chunk.length) this.#extra = true
        this.#left -= take
        ok = client.write(take === chunk.length ? chunk : chunk.subarray(0, take))
        if (this.#shadow !== null) this.#shadow.body(take === chunk.length ? chunk : chunk.subarray(0, take))
        complete = this.#left === 0
        break
      }
      case Body.Chunked: {
        const r = this.#decoder!.push(chunk)
        if (r.error !== null) {
          this.#fail('protocol', null, `chunked body refused: ${r.error}`)
          return false
        }
        if (this.#dechunk) {
          ok = true
          for (let i = 0; i < r.data.length; i++) ok = client.write(r.data[i])
        } else {
          ok = client.write(r.consumed === chunk.length ? chunk : chunk.subarray(0, r.consumed))
        }
        if (r.done && r.consumed < chunk.length) this.#extra = true
        if (this.#shadow !== null) for (let i = 0; i < r.data.length; i++) this.#shadow.body(r.data[i])
        complete = r.done
        break
      }
      default:
        if (this.#rechunk) {
          // never an empty chunk: that is the last one
          if (chunk.length === 0) return false
          ok = client.writeChunk(chunk)
        } else {
          ok = client.write(chunk)
        }
        if (this.#shadow !== null) this.#shadow.body(chunk)
        break
    }
    const conn = this.conn
    if (conn !== null) {
      // the shadow copy keeps what it was fed; bytes the client socket queued are the read
      // buffer's until the socket has written them: the next read needs another buffer
      if (this.#shadow !== null) conn.retain()
      else if (client.socket.writableLength > 0) conn.lend(client.socket)
      // the client cannot take more: stop reading the node until it drains (a write returns
      // false past the socket's 16 KiB high-water mark, so 'drain' comes)
      if (!ok && !complete && client.socket.writableLength > MAX_QUEUED) {
        conn.socket.pause()
        this.#waitingOnClient = true
        this.#clientBacklog = client.unsent()
      }
    }
    return complete
  }

  onUpstreamEnd(): void {
    if (this.stage === Stage.Streaming && this.#body === Body.Close) this.#responseDone()
  }

  onUpstreamClose(conn: UpstreamConnection, err: Error | null): void {
    if (this.conn !== conn || this.done) return
    this.conn = null
    switch (this.stage) {
      case Stage.Connecting:
        this.#fail('connect', err, 'connection closed while connecting')
        break
      case Stage.Streaming:
        if (this.#body === Body.Close && err === null) this.#responseDone()
        else this.#fail('reset', err, 'connection closed before the answer was whole')
        break
      default:
        if (conn.connected) this.#fail('reset', err, 'connection closed before the answer began')
        else this.#fail('connect', err, 'connection closed while connecting')
        break
    }
  }

  /** The response is whole: reuse the node's connection if it is clean, free the client for the next request. */
  #responseDone(): void {
    // the node closed a body read until the close: the client's chunked one ends here
    if (this.#rechunk) this.client.write(LAST_CHUNK)
    const node = this.node!
    const conn = this.conn
    this.conn = null
    const now = this.fw.clock.monotonic()
    if (conn !== null) {
      if (this.#nodeKeepAlive && !this.#extra && this.requestComplete && !conn.ended) node.dispatcher.release(conn, now)
      else node.dispatcher.discard(conn)
    }
    this.#endAttempt()
    if (this.#shadow !== null) {
      this.#shadow.end()
      this.#shadow = null
    }
    this.#finish(this.status)
    if (this.#closeEnds()) this.client.closeEndsAnswer()
    this.client.exchangeDone(!this.#closeClient, now)
  }

  // ---- failures ----

  /**
   * The attempt failed with no usable answer: retry, or answer the client with cutover's
   * error. why says what the node did, for the log; err, when there is one, says it better.
   */
  #fail(kind: FailureKind, err: Error | null, why: string): void {
    const fw = this.fw
    const node = this.node!
    fw.sink.attemptFailed(node, kind)
    this.#dropAttempt()
    why = errorWhy(err, why)
    if (this.status !== 0) {
      // the response had started: the client must see it broken, never cut short and whole
      fw.failures.note(node, kind, why, 'cut', 'http1')
      this.#breakClient()
      this.#finish(this.status)
      return
    }
    if (!this.clientGone) {
      const tried = (this.tried ??= [])
      tried.push(node)
      const next = fw.nextNode({ failed: node, kind, attempts: this.attempts, tried, idempotent: isIdempotent(this.head.method), bodySent: this.bodySent })
      if (next !== undefined) {
        fw.failures.note(node, kind, why, { retried: next }, 'http1')
        this.attempt(next)
        return
      }
    }
    const status = failureAnswer(kind).status
    fw.failures.note(node, kind, why, this.clientGone ? 'client gone' : { answered: status }, 'http1')
    this.#answer(status, failureBytes(kind, false, this.head.versionMinor), failureBytes(kind, true))
  }

  /** Give up the attempt's connection (never reused) and end it. */
  #dropAttempt(): void {
    const node = this.node!
    const conn = this.conn
    this.conn = null
    if (this.stage === Stage.Queued) node.dispatcher.cancel(this)
    if (conn !== null) node.dispatcher.discard(conn)
    this.#endAttempt()
  }

  /** Answer with cutover's own error; the connection closes when the request's body was not read whole. */
  #answer(status: number, keep: Buffer, closing: Buffer): void {
    const client = this.client
    // x gave no answer for the copy (not a 408, 413 or 400: the client's doing)
    if (this.#shadow !== null && (status === 502 || status === 503 || status === 504)) this.#shadow.xFailed()
    keep = forMethod(keep, this.head.method)
    closing = forMethod(closing, this.head.method)
    this.#finish(status)
    const close = client.phase === Phase.Body || !client.keepAlive || client.draining || client.ended
    if (close) {
      client.answerAndClose(closing)
    } else {
      client.write(keep)
      client.exchangeDone(true)
    }
  }

  /** request_timeout, connect_timeout or (the answer's body standing still) idle_timeout passed. */
  expire(): void {
    this.deadline = 0
    switch (this.stage) {
      case Stage.Connecting:
        this.#fail('connect', null, 'no connection within connect_timeout')
        break
      case Stage.Queued:
        this.#fail('timeout', null, 'no free connection (upstream_max_connections) within request_timeout')
        break
      case Stage.Waiting:
        // the upload stood still: the client's doing unless the node stopped taking it
        if (this.client.phase === Phase.Body && !this.#waitingOnNode) this.#clientBodyStalled()
        else if (this.client.phase === Phase.Body) this.#fail('timeout', null, 'took nothing of the request body for idle_timeout')
        else this.#fail('timeout', null, 'no response head within request_timeout')
        break
      case Stage.Streaming:
        // the node stopped sending its answer: its failure; the client stopped taking it: not the node's
        if (!this.#waitingOnClient) this.#fail('timeout', null, 'the body of the answer stood still for idle_timeout')
        else if (!this.#clientReading()) this.#clientStalled()
        break
      default:
        break
    }
  }

  /** The client sent nothing of its body for idle_timeout: 408 and close; the node, left with half a request, is not blamed. */
  #clientBodyStalled(): void {
    if (this.done) return
    this.#dropAttempt()
    this.#answer(408, RAW.bodyTimeout, RAW.bodyTimeout)
  }

  /**
   * Whether the client took some of its backlog since the last look: a slow reader is not a
   * stalled one (nginx's send_timeout counts from the last write that moved, too), so the
   * answer goes on for another idle_timeout. The node stays paused until the backlog is gone.
   */
  #clientReading(): boolean {
    const left = this.client.unsent()
    if (left >= this.#clientBacklog) return false
    this.#clientBacklog = left
    this.#moving()
    return true
  }

  /** The client took nothing of the answer for idle_timeout: both connections are cut, the node is not blamed. */
  #clientStalled(): void {
    if (this.fw.logger.isLevelEnabled('debug')) this.fw.logger.debug({ node: this.node?.name, status: this.status }, 'client took nothing of the answer for idle_timeout: cut')
    this.cut()
  }

  get kind(): LongLivedKind {
    return 'event-stream'
  }

  /**
   * End the answer on both sides, the node not blamed: its client stopped taking it, or
   * (an event stream) its node must not carry traffic any more (a rollback, maint).
   * EventSource clients reconnect (with Last-Event-ID) and land where the split sends them now.
   */
  cut(): void {
    if (this.done || this.node === null) return
    this.#dropAttempt()
    // where the close is the answer's end, a FIN would read as the whole answer
    if (this.#closeEnds()) this.client.reset()
    else this.client.destroy()
    this.#finish(this.status)
  }

  /**
   * End the client's connection in the middle of the answer so that it reads as broken: a
   * close after what was written, where the framing says where the answer ends (short of
   * it), or a reset, where the close itself would be the end (read-until-close or
   * de-chunked, to an HTTP/1.0 client)
   */
  #breakClient(): void {
    if (this.#closeEnds()) this.client.reset()
    else this.client.endBroken()
  }

  /** the client reads the answer's end from the connection's close (read until close, or de-chunked to HTTP/1.0) */
  #closeEnds(): boolean {
    return (this.#body === Body.Close && !this.#rechunk) || this.#dechunk
  }

  /** The client went away: stop the upstream request. */
  clientClosed(): void {
    if (this.done) return
    this.clientGone = true
    if (this.node !== null) this.#dropAttempt()
    this.#finish(this.status || CLIENT_CLOSED)
  }

  /** A chunked body went over max_body_size: stop the upload and answer 413. */
  bodyTooLarge(): void {
    this.#abortUpload(413, RAW.bodyTooLarge)
  }

  /** The client's chunked body is malformed: the node must never take it as whole. */
  clientBodyError(reason: string): void {
    this.#abortUpload(400, badRequestBytes(reason))
  }

  #abortUpload(status: number, bytes: Buffer): void {
    if (this.done) return
    if (this.node !== null) this.#dropAttempt()
    if (this.status !== 0) {
      this.#breakClient()
      this.#finish(this.status)
      return
    }
    this.#answer(status, bytes, bytes)
  }

  #endAttempt(): void {
    const node = this.node
    if (node === null) return
    if (this.#held) {
      this.#held = false
      this.fw.longLived.delete(this)
    }
    this.node = null
    this.stage = Stage.Idle
    this.deadline = 0
    // a partial head of this node's must never be read as the start of the next node's answer
    this.#rbuf = null
    node.inflight--
    this.fw.sink.attemptEnded(node)
  }

  #finish(status: number): void {
    if (this.done) return
    this.done = true
    // an answer that did not end whole has nothing to compare
    if (this.#shadow !== null) {
      this.#shadow.abort()
      this.#shadow = null
    }
    const fw = this.fw
    fw.inflight--
    const ms = this.headersMs >= 0 ? this.headersMs : fw.clock.monotonic() - this.start
    fw.sink.finished(this.pool, status, ms)
    recordRequest(fw.accessLog, this.head, this.client.remoteAddress, this.pool, this.lastNode?.name ?? null, status, ms, this.attempts)
  }
}
