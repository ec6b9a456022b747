/** An attempt on a node's h2 listener: one stream on a pooled session (node-session-pool.ts). */

import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { FailureKind } from '../outcome/outcome-sink.js'
import type { AttemptUser, NodeAttempt } from './node-attempt.js'
import { responseHeaders } from './node-attempt.js'
import { goneUnprocessed, type NodeSessionPool, type SessionWaiter } from './node-session-pool.js'

const http2 = process.getBuiltinModule('node:http2')

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants

export class H2Attempt implements NodeAttempt, SessionWaiter {
  readonly #pool: NodeSessionPool
  readonly #headers: OutgoingHttpHeaders
  /** the client's request had no body */
  readonly #endStream: boolean
  readonly #user: AttemptUser
  #session: ClientHttp2Session | null = null
  #stream: ClientHttp2Stream | null = null
  connected = false
  bodySent = false
  #responded = false
  #over = false
  #error: Error | undefined
  /** the client's request trailers, sent after the body */
  #trailers: OutgoingHttpHeaders | undefined
  #ended = false
  /** the body the answer's content-length promises (-1: it names none, or no body is due) */
  #due = -1
  /** the node's side of the stream ended without END_STREAM: reset with NO_ERROR (see #watchEnd) */
  #cut = false
  /** the node's END_STREAM came: all of the answer is in the stream (see #watchEnd) */
  #heardEnd = false

  constructor(pool: NodeSessionPool, headers: OutgoingHttpHeaders, endStream: boolean, user: AttemptUser) {
    this.#pool = pool
    this.#headers = headers
    this.#endStream = endStream
    this.#user = user
  }

  start(): void {
    this.#pool.acquire(this)
  }

  sessionReady(session: ClientHttp2Session): void {
    if (this.#over) {
      this.#pool.release(session)
      return
    }
    this.#session = session
    this.connected = true
    let stream: ClientHttp2Stream
    try {
      // a body may end with trailers (known only at its end): Node sends them on 'wantTrailers'
      stream = session.request(this.#headers, this.#endStream ? { endStream: true } : { endStream: false, waitForTrailers: true })
    } catch (err) {
      // the session went away between the pick and now: nothing was sent
      this.#pool.release(session)
      this.#session = null
      this.#fail('connect', err as Error)
      return
    }
    this.#stream = stream
    this.#watchEnd(stream)
    stream.on('headers', this.#onInformational)
    stream.on('response', this.#onResponse)
    stream.on('data', this.#onData)
    stream.on('trailers', this.#onTrailers)
    stream.on('end', this.#onEnd)
    stream.on('drain', this.#onDrain)
    stream.on('error', this.#onError)
    stream.on('close', this.#onClose)
    if (!this.#endStream) {
      stream.once('wantTrailers', this.#sendTrailers)
      // the client's request ended before the session was there (trailers and no body)
      if (this.#ended) stream.end()
    }
    // the body may flow now
    if (!this.#endStream) this.#user.drain()
  }

  sessionFailed(err: Error): void {
    if (!this.#over) this.#fail('connect', err)
  }

  sessionMoved(): void {
    if (!this.#over && this.#stream === null) this.#user.moved()
  }

  write(chunk: Buffer): boolean {
    const stream = this.#stream
    if (stream === null || this.#over) return true
    this.bodySent = true
    return stream.write(chunk)
  }

  end(trailers?: OutgoingHttpHeaders): void {
    if (this.#over || this.#endStream) return
    // before the session is ready it is kept for sessionReady
    this.#ended = true
    this.#trailers = trailers
    this.#stream?.end()
  }

  #sendTrailers = (): void => {
    const stream = this.#stream
    // no trailers from the client: an empty DATA frame with END_STREAM (Node's way)
    if (stream === null || stream.destroyed) return
    try {
      stream.sendTrailers(this.#trailers ?? {})
    } catch (err) {
      // a field the node's side refuses: the request cannot go whole ('close' reports it)
      this.#error = err as Error
      stream.close(NGHTTP2_INTERNAL_ERROR)
    }
  }

  pause(): void {
    this.#stream?.pause()
  }

  resume(): void {
    this.#stream?.resume()
  }

  abort(): void {
    if (this.#over) return
    this.#over = true
    if (this.#stream !== null) {
      if (!this.#stream.closed) this.#stream.close(NGHTTP2_CANCEL)
    } else {
      this.#pool.cancel(this)
    }
  }

  abandon(): void {
    this.#over = true
    const stream = this.#stream
    if (stream !== null && !stream.closed) stream.close(NGHTTP2_CANCEL)
  }

  /**
   * Node ends a stream's readable side alike for the node's END_STREAM and for a
   * RST_STREAM(NO_ERROR) without one (node:http2's stream.destroy() and session.destroy()
   * send that mid-answer), and Node's rstCode is 0 both ways: only the first is a whole
   * answer. Node's end of a stream it heard END_STREAM on comes while the stream is open
   * (the close follows it); the end of a stream reset comes with the stream already closed.
   *
   * After the node's END_STREAM nothing is left to hold back: what the stream holds (paused
   * for a slow client) is handed on at once. node:http2 destroys every stream left in a
   * session that ends, whatever it read of them: a GOAWAY with an error code (even one whose
   * last stream id says this stream was processed) or a socket gone took the answer's tail,
   * and the client got a reset after part of an answer the node had sent whole.
   */
  #watchEnd(stream: ClientHttp2Stream): void {
    const push = stream.push
    stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null) return push.call(stream, chunk, encoding)
      stream.push = push
      if (stream.closed) this.#cut = true
      else this.#heardEnd = true
      const pushed = push.call(stream, chunk, encoding)
      // read() emits 'data' for what it returns, paused or not
      let more = this.#heardEnd
      while (more && !this.#over) more = stream.read() !== null
      return pushed
    }
  }

  #onInformational = (headers: IncomingHttpHeaders): void => {
    const status = Number(headers[':status'])
    // 101 has no place in HTTP/2
    if (!this.#over && status >= 100 && status < 200 && status !== 101) this.#user.informational(responseHeaders(status, headers))
  }

  #onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    if (this.#over) return
    this.#responded = true
    const status = Number(headers[':status'])
    // nghttp2 checks a content-length only at END_STREAM; a stream the node resets with
    // NO_ERROR before it ends looks whole to Node, so the bytes are counted here
    const length = headers['content-length']
    if (length !== undefined && this.#headers[':method'] !== 'HEAD' && status !== 204 && status !== 304) this.#due = Number(length)
    this.#user.response(status, responseHeaders(status, headers), (flags & NGHTTP2_FLAG_END_STREAM) !== 0)
  }

  #onData = (chunk: Buffer): void => {
    if (this.#over) return
    if (this.#due >= 0) this.#due -= chunk.length
    this.#user.data(chunk)
  }

  #onTrailers = (headers: IncomingHttpHeaders): void => {
    if (!this.#over) this.#user.trailers(headers)
  }

  #onEnd = (): void => {
    if (this.#over || !this.#responded) return
    // Node ends the readable side of a reset stream too: that is a failure, told by 'close'
    const rst = this.#stream?.rstCode
    if (rst !== undefined && rst !== NGHTTP2_NO_ERROR) return
    if (this.#cut) {
      // a failure all the same ('close' reports it)
      this.#error = new Error('the node reset its stream (NO_ERROR) before the answer ended')
      return
    }
    if (this.#due > 0) {
      // ended short of its content-length without an error code: a failure all the same ('close' reports it)
      this.#error = new Error(`the node ended its stream ${this.#due} bytes short of its content-length`)
      return
    }
    this.#over = true
    this.#user.end()
  }

  #onDrain = (): void => {
    if (!this.#over) this.#user.drain()
  }

  #onError = (err: Error): void => {
    this.#error = err
  }

  #onClose = (): void => {
    const session = this.#session
    this.#session = null
    if (session !== null) this.#pool.release(session)
    if (this.#over) return
    if (this.#wholeBeforeClose()) {
      // the session ended (and Node destroyed the stream without its 'end') after all of it came
      this.#over = true
      this.#user.end()
      return
    }
    // closed without a whole response
    this.#fail(this.#refused(session) ? 'connect' : 'reset', this.#error ?? this.#closedWhy())
  }

  /** The node's END_STREAM came, on a stream it closed cleanly, and all of the answer went on. */
  #wholeBeforeClose(): boolean {
    const stream = this.#stream
    if (!this.#heardEnd || !this.#responded || this.#cut || this.#due > 0 || stream === null) return false
    return stream.rstCode === NGHTTP2_NO_ERROR && stream.readableLength === 0
  }

  /** What the node did, when the stream closed with no error of Node's to say it (a reset names its code in Node's error). */
  #closedWhy(): Error {
    return new Error(this.#responded ? 'stream closed before the answer was whole' : 'stream closed before the answer began')
  }

  /**
   * The node never processed the stream: REFUSED_STREAM (RFC 9113 8.7), or cut by a GOAWAY
   * whose last stream id is below it (6.8), with any error code; as safe to send again as a
   * refused connect, for any method, body and all (its user decides whether it still has
   * all of the body: stream-exchange.ts keeps a short one).
   */
  #refused(session: ClientHttp2Session | null): boolean {
    if (this.#responded) return false
    const stream = this.#stream
    if (stream !== null && stream.rstCode === NGHTTP2_REFUSED_STREAM) return true
    if (stream !== null && session !== null && goneUnprocessed(session, stream.id)) return true
    return (this.#error as { code?: string } | undefined)?.code === 'ERR_HTTP2_GOAWAY_SESSION'
  }

  #fail(kind: FailureKind, err: Error | undefined): void {
    this.#over = true
    this.#user.failed(kind, err)
  }
}
