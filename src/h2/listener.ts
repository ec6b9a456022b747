/**
 * cutover's HTTP/2 side for clients (issue 12): one node:http2 server that never listens
 * itself. It takes the TLS sockets that chose `h2` by ALPN on the proxy listener (the
 * `http/1.1` ones stay with the engine's client-connection) and, with proxy.h2c_listen,
 * plain-text sockets speaking h2 with prior knowledge. Each stream is a StreamExchange.
 *
 * Limits: SETTINGS_MAX_CONCURRENT_STREAMS (proxy.h2_max_concurrent_streams), header
 * lists up to proxy.max_header_size and 128 fields (longer ones: the stream is refused),
 * nghttp2's memory cap per session, and the flood guard (flood-guard.ts) beside
 * nghttp2's own defences; a session ended for flooding gets GOAWAY ENHANCE_YOUR_CALM and
 * is counted in cutover_requests_refused_total{reason="h2_*"}. A session silent for
 * idle_timeout is sent a PING, and destroyed when it does not answer within another
 * (#probe; one the client sent GOAWAY, which can take no PING: when it sends nothing). Drain: GOAWAY NO_ERROR to every session, whose open streams finish.
 */

import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import type { AddressInfo, Server, Socket } from 'node:net'
import type { Logger } from 'pino'
import type { TimerHandle } from '../clock.js'
import type { Config, HostPort } from '../config/types.js'
import { peerAddress, ProxyHeaderReader } from '../forwarding/proxied.js'
import { ThrottledWarning } from '../forwarding/throttled-warning.js'
import type { Forwarder } from '../forwarding/forwarder.js'
import { DEFAULT_FLOOD_LIMITS, FloodGuard, type FloodLimits, type H2Refusal, refusalOfSessionError } from './flood-guard.js'
import { grpcMask } from './grpc-status.js'
import { H2Nodes } from './h2-nodes.js'
import { keepEarlyTrailers, type StreamContext, StreamExchange } from './stream-exchange.js'

const http2 = process.getBuiltinModule('node:http2')
const net = process.getBuiltinModule('node:net')

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants

/** the error the sessions left at drain_timeout end with (closeAll) */
const DRAIN_CUT = new Error('drain_timeout passed')

export interface H2ListenerOptions {
  config: Config
  forwarder: Forwarder
  logger: Logger
  /** the flood guard's buckets (tests make them small) */
  floodLimits?: FloodLimits
}

/** What the listener keeps per client session. */
interface SessionState {
  guard: FloodGuard
  /** streams open now */
  streams: number
  /** closes a session that sends no stream for a while */
  idle: TimerHandle | null
  https: boolean
  remote: string | undefined
  refused: boolean
  /** the deadline of a PING sent to a silent session (#probe) */
  probe: TimerHandle | null
  /** the session is being closed (closeGently): streams its GOAWAY refuses are no client's resets */
  closing: boolean
}

/**
 * Close a session gracefully (idle past header_timeout or keepalive_timeout, or draining)
 * without Node 20's heap use-after-free (nodejs/node#64113, fixed by #64166 after Node 20's
 * end of life; test/h2/node20-uaf/timer-close-uaf.mjs). close() alone counts the session
 * closed at once: a request already in its socket is then refused by Node with RST_STREAM
 * from inside nghttp2's read, which on Node 20 sends the pending GOAWAY there, and nghttp2
 * frees the stream it is still reading. So a GOAWAY first (Node names the last stream
 * nghttp2 processed: those go on; nghttp2 itself refuses any after, which the client
 * retries elsewhere), and close() a turn later, once it went.
 */
function closeGently(session: Http2Session, state: SessionState): void {
  if (session.closed || session.destroyed || state.closing) return
  state.closing = true
  try {
    session.goaway(NGHTTP2_NO_ERROR)
  } catch {
    // a session already going: close() below ends it all the same
  }
  setImmediate(() => {
    if (!session.closed && !session.destroyed) session.close()
  })
}

export class H2Listener {
  readonly server: Http2Server
  readonly nodes: H2Nodes
  readonly sessions = new Map<Http2Session, SessionState>()
  /**
   * The sockets under the sessions. A session destroyed while its peer keeps a stream open
   * does not always close its socket (seen on Node 24 with a half-closed CONNECT stream),
   * so closeAll cuts the sockets themselves.
   */
  readonly #sockets = new Set<Socket>()
  /** the h2c listener's PROXY header reader (proxy.proxy_protocol) */
  #proxyHeaders: ProxyHeaderReader | null = null
  readonly #ctx: StreamContext
  readonly #fw: Forwarder
  readonly #logger: Logger
  readonly #limits: FloodLimits
  #proxy: Config['proxy']
  #h2c: Server | null = null
  #draining = false

  constructor(options: H2ListenerOptions) {
    const { config, forwarder } = options
    this.#fw = forwarder
    this.#logger = options.logger
    this.#limits = options.floodLimits ?? DEFAULT_FLOOD_LIMITS
    this.#proxy = config.proxy
    this.nodes = new H2Nodes(config.proxy, forwarder.clock)
    this.#ctx = {
      fw: forwarder,
      nodes: this.nodes,
      grpcFailures: grpcMask(config.gates.grpc_failures),
      noH2Node: new ThrottledWarning(options.logger, forwarder.clock, 'gRPC call answered UNAVAILABLE: no usable node has an h2 address (pools.*.nodes[].h2)'),
    }
    this.server = http2.createServer({
      maxSessionMemory: 10,
      maxHeaderListPairs: 128,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxOutstandingPings: 10,
      maxSettings: 32,
      settings: {
        maxConcurrentStreams: config.proxy.h2_max_concurrent_streams,
        maxHeaderListSize: config.proxy.max_header_size,
        enablePush: false,
      },
    })
    this.server.on('session', this.#onSession)
    this.server.on('stream', this.#onStream)
    // a session that broke the protocol: nghttp2 sent GOAWAY; counted in the session's 'error'
    this.server.on('sessionError', ignore)
  }

  /** Apply a reloaded config to streams from now on (listener settings need a restart). */
  configure(config: Config): void {
    this.#proxy = config.proxy
    this.#ctx.grpcFailures = grpcMask(config.gates.grpc_failures)
    this.nodes.configure(config.proxy)
    this.nodes.prune()
  }

  /** A TLS socket whose client chose h2 by ALPN. */
  acceptTls(socket: Socket): void {
    this.#track(socket)
    this.server.emit('connection', socket)
  }

  /**
   * A plain-TCP socket of the HTTP/1.1 listener whose client opened with HTTP/2's preface
   * (h2c with prior knowledge); bytes: what was read of it, handed back to the session.
   */
  acceptPrefaced(socket: Socket, bytes: Buffer): void {
    if (this.#draining) {
      socket.destroy()
      return
    }
    this.#track(socket)
    socket.unshift(bytes)
    this.server.emit('connection', socket)
  }

  #track(socket: Socket): void {
    // the proxy listener makes its sockets half-open (allowHalfOpen, for HTTP/1.1's sake);
    // node:http2 never hears a FIN on such a socket, so a client that left would hold its
    // session, its streams and their node work until the node ended them
    socket.allowHalfOpen = false
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
  }

  /** Listen for h2c with prior knowledge on address. */
  listen(address: HostPort): Promise<HostPort> {
    const take = (socket: Socket): void => {
      if (this.#draining) {
        socket.destroy()
        return
      }
      this.#track(socket)
      this.server.emit('connection', socket)
    }
    // behind a TCP balancer (proxy.proxy_protocol): the PROXY header first (forwarding/proxied.ts)
    const headers = this.#proxy.proxy_protocol ? new ProxyHeaderReader(this.#fw) : null
    this.#proxyHeaders = headers
    const server = net.createServer({ noDelay: true }, headers === null ? take : (socket) => headers.read(socket, take))
    const max = this.#proxy.max_connections
    if (max > 0) server.maxConnections = max
    this.#h2c = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(address.port, address.host, () => {
        server.off('error', reject)
        const a = server.address() as AddressInfo
        resolve({ host: a.address, port: a.port })
      })
    })
  }

  /** The h2c listener's address, when there is one. */
  address(): HostPort | undefined {
    const a = this.#h2c?.address()
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : undefined
  }

  /** Stop accepting; GOAWAY to every session; resolves when the last one is gone. */
  close(): Promise<void> {
    this.#draining = true
    this.#proxyHeaders?.closeAll()
    const stopped = new Promise<void>((resolve) => (this.#h2c?.listening ? this.#h2c.close(() => resolve()) : resolve()))
    const gone = [...this.sessions.keys()].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))))
    for (const [session, state] of this.sessions) closeGently(session, state)
    return Promise.all([stopped, ...gone]).then(() => this.nodes.close())
  }

  /** Cut every session now (drain_timeout passed). */
  closeAll(): void {
    this.#proxyHeaders?.closeAll()
    // with an error code: Node's destroy() resets every open stream with the session's code,
    // and NO_ERROR (its default, and what it makes of destroy(undefined, code)) reads to a
    // client as the answer's clean end. The error is cutover's own: not counted a refusal
    for (const [session, state] of [...this.sessions]) {
      state.refused = true
      session.destroy(DRAIN_CUT, NGHTTP2_CANCEL)
    }
    for (const socket of this.#sockets) socket.destroy()
    void this.nodes.close(true)
  }

  #onSession = (session: ServerHttp2Session): void => {
    const fw = this.#fw
    const socket = session.socket
    const state: SessionState = {
      guard: new FloodGuard(this.#limits, fw.clock.monotonic()),
      streams: 0,
      idle: null,
      https: (socket as { encrypted?: boolean }).encrypted === true,
      remote: peerAddress(socket),
      refused: false,
      probe: null,
      closing: false,
    }
    this.sessions.set(session, state)
    if (this.#draining) closeGently(session, state)
    // a connection that sends no request: the first within header_timeout
    this.#idleIn(session, state, this.#proxy.header_timeout)
    let firstSettings = true
    session.on('remoteSettings', () => {
      if (firstSettings) firstSettings = false
      else this.#check(session, state, state.guard.settings(fw.clock.monotonic()))
    })
    session.on('ping', () => this.#check(session, state, state.guard.ping(fw.clock.monotonic())))
    session.on('error', (err: Error) => {
      if (state.refused) return
      state.refused = true
      const reason = refusalOfSessionError(err)
      fw.refused(reason)
      this.#logger.debug({ client: state.remote, reason, err: err.message }, 'h2 session ended by nghttp2')
    })
    // Node 20's nghttp2 ends a session on some connection errors (a DATA frame on a stream
    // the client had ended) with its GOAWAY and not a word to Node: the session reads no
    // more, so the client's FIN goes unheard (the socket stays in CLOSE-WAIT), and its streams
    // never close. A session silent for idle_timeout is sent a PING; one that does not
    // answer it within another idle_timeout is destroyed
    session.setTimeout(this.#proxy.idle_timeout, () => this.#probe(session, state))
    session.on('close', () => {
      fw.clock.clearTimeout(state.idle)
      fw.clock.clearTimeout(state.probe)
      this.sessions.delete(session)
    })
  }

  #onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    // a stream cut by GOAWAY or a reset errors; nobody may be listening yet. First: a stream
    // nghttp2 already reset (a body longer than its content-length, in the frames that opened
    // it) has no session any more, and its error is on its way
    stream.on('error', ignore)
    const session = stream.session
    const state = session === undefined ? undefined : this.sessions.get(session)
    if (session === undefined || state === undefined) {
      stream.close(NGHTTP2_ENHANCE_YOUR_CALM)
      return
    }
    state.streams++
    this.#fw.clock.clearTimeout(state.idle)
    state.idle = null
    stream.once('close', () => {
      state.streams--
      // reset by the client before cutover answered: rapid reset counts these
      if (stream.rstCode !== NGHTTP2_NO_ERROR && !stream.headersSent && !state.refused && !state.closing) {
        this.#check(session, state, state.guard.reset(this.#fw.clock.monotonic()))
      }
      if (state.streams === 0 && !session.closed) this.#idleIn(session, state, this.#proxy.keepalive_timeout)
    })
    keepEarlyTrailers(stream)
    // after this read's frames: a stream the client reset in the same breath never costs a node request
    setImmediate(() => {
      if (stream.closed || stream.destroyed || state.refused) return
      new StreamExchange(this.#ctx, stream, headers, state.remote, state.https).start()
    })
  }

  /** End the session with GOAWAY ENHANCE_YOUR_CALM when the guard says so. */
  #check(session: Http2Session, state: SessionState, refusal: H2Refusal | undefined): void {
    if (refusal === undefined || state.refused) return
    state.refused = true
    this.#fw.refused(refusal)
    this.#logger.warn({ client: state.remote, reason: refusal }, 'h2 session ended: flooding')
    // GOAWAY with the reason first: destroy() alone would say NO_ERROR once streams are open
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM)
    setImmediate(() => session.destroy())
  }

  /**
   * A PING to a session silent for idle_timeout; no answer within another idle_timeout: it is
   * gone. A session the client sent GOAWAY can take no PING (node:http2 cancels it at once:
   * ping() returns no boolean, its callback gets ERR_HTTP2_PING_CANCEL), yet the client may
   * still wait for its streams' answers: bytes read from it within that time are its answer.
   */
  #probe(session: Http2Session, state: SessionState): void {
    if (session.destroyed || state.probe !== null) return
    const clock = this.#fw.clock
    const socket = session.socket
    const readBefore = socket.bytesRead
    let pinged = false
    state.probe = clock.setTimeout(() => {
      state.probe = null
      if (session.destroyed) return
      if (!pinged && socket.bytesRead !== readBefore) return
      session.destroy()
    }, this.#proxy.idle_timeout)
    // a cancelled PING (the session closed, or destroyed) is no answer
    const answered = (err: Error | null): void => {
      if (err !== null) return
      clock.clearTimeout(state.probe)
      state.probe = null
    }
    try {
      const sent = session.ping(answered)
      // false: too many PINGs unanswered already
      if (sent === false) session.destroy()
      pinged = sent === true
    } catch {
      session.destroy()
    }
  }

  #idleIn(session: Http2Session, state: SessionState, ms: number): void {
    const clock = this.#fw.clock
    clock.clearTimeout(state.idle)
    state.idle = clock.setTimeout(() => {
      state.idle = null
      if (state.streams === 0) closeGently(session, state)
    }, ms)
  }
}

function ignore(): void {}
