/**
 * The HTTP/2 sessions of one process to one node's h2 listener (its `h2` address): a
 * stream goes on the connected session with the fewest streams under the node's
 * SETTINGS_MAX_CONCURRENT_STREAMS; a new session is opened when all are full, up to
 * maxSessions (beyond, the least busy one takes it and nghttp2 queues the stream until a
 * slot frees). A session is up when the node's first SETTINGS frame arrived; one that is
 * not within connectTimeout, was sent GOAWAY or broke takes no new streams, yet counts
 * against maxSessions until it closed (its streams may still run): a stream finding every
 * session so, at the cap, waits for one to close. One idle for idleTimeout is closed.
 */

import { CutoverError } from '../errors.js'
import type { ClientHttp2Session } from 'node:http2'
import type { Clock, TimerHandle } from '../clock.js'
import type { H2Address } from '../config/types.js'

const http2 = process.getBuiltinModule('node:http2')
const net = process.getBuiltinModule('node:net')

export interface SessionPoolOptions {
  connectTimeout: number
  /** most sessions to the node from this process (proxy.upstream_max_connections; 0: no limit) */
  maxSessions: number
  /** ms a session with no stream stays open */
  idleTimeout: number
  /** largest response header list accepted from the node, bytes */
  maxHeaderListSize: number
}

/** Told once whether a session for a stream is there. */
export interface SessionWaiter {
  sessionReady(session: ClientHttp2Session): void
  /** no session: the connect failed or timed out */
  sessionFailed(err: Error): void
  /** still waiting for a session (at maxSessions) while the node must take no more traffic: nothing went to it */
  sessionMoved?(): void
}

/** the last stream id of the GOAWAY a session got from its node (RFC 9113 6.8) */
const goawayLastStream = new WeakMap<ClientHttp2Session, number>()

/**
 * Whether the node said it never processed stream id of session: a GOAWAY whose last
 * stream id is below it (RFC 9113 6.8), whatever the GOAWAY's error code (Node destroys a
 * session on a GOAWAY with one, and its streams then close with the session's error).
 */
export function goneUnprocessed(session: ClientHttp2Session, id: number | undefined): boolean {
  const last = goawayLastStream.get(session)
  return last !== undefined && id !== undefined && id > last
}

/** One session and what the pool knows of it. */
class Entry {
  readonly session: ClientHttp2Session
  connected = false
  /** no new streams: GOAWAY received, closing or broken */
  retired = false
  streams = 0
  waiters: SessionWaiter[] = []
  /** the connect timeout, then the idle timeout */
  timer: TimerHandle | null = null
  /** what broke it, told to the streams still waiting */
  error: Error | null = null

  constructor(session: ClientHttp2Session) {
    this.session = session
  }

  /** The node's limit on concurrent streams (100 until its SETTINGS say otherwise). */
  get limit(): number {
    return this.session.remoteSettings?.maxConcurrentStreams ?? 100
  }
}

export class NodeSessionPool {
  readonly address: H2Address
  #options: SessionPoolOptions
  readonly #clock: Clock
  readonly #entries: Entry[] = []
  /** streams waiting for a session: every one open, at maxSessions, takes no new stream */
  readonly #waiting: SessionWaiter[] = []
  #closing = false

  constructor(address: H2Address, options: SessionPoolOptions, clock: Clock) {
    this.address = address
    this.#options = options
    this.#clock = clock
  }

  get options(): SessionPoolOptions {
    return this.#options
  }

  /** New timeouts and caps from now on (a reload); a higher cap serves waiting streams now. */
  set options(options: SessionPoolOptions) {
    this.#options = options
    this.#serveWaiting()
  }

  /** streams waiting for a session to close (every one at the cap retired) */
  get waiting(): number {
    return this.#waiting.length
  }

  /** sessions open or connecting */
  get size(): number {
    return this.#entries.length
  }

  /** A session for one stream: now (waiter told synchronously) or once one connects. */
  acquire(waiter: SessionWaiter): void {
    const entry = this.#pick()
    if (entry === undefined) {
      this.#waiting.push(waiter)
      return
    }
    this.#assign(entry, waiter)
  }

  #assign(entry: Entry, waiter: SessionWaiter): void {
    entry.streams++
    if (entry.connected) {
      // no longer idle
      this.#clearTimer(entry)
      waiter.sessionReady(entry.session)
    } else {
      entry.waiters.push(waiter)
    }
  }

  /** A stream acquired on session ended (or was never opened): its slot is free. */
  release(session: ClientHttp2Session): void {
    const entry = this.#entries.find((e) => e.session === session)
    if (entry === undefined) return
    entry.streams--
    if (entry.streams <= 0) {
      entry.streams = 0
      if (entry.retired || this.#closing) session.close()
      else this.#idle(entry)
    }
  }

  /** A waiter gave up before its session connected (the client left, or its time ran out). */
  cancel(waiter: SessionWaiter): void {
    const w = this.#waiting.indexOf(waiter)
    if (w >= 0) {
      this.#waiting.splice(w, 1)
      return
    }
    for (const entry of this.#entries) {
      const i = entry.waiters.indexOf(waiter)
      if (i >= 0) {
        entry.waiters.splice(i, 1)
        entry.streams--
        return
      }
    }
  }

  /** The node must take no more traffic: each stream waiting for a session is told (it may cancel and go elsewhere). */
  moveWaiting(): void {
    for (const w of [...this.#waiting]) if (this.#waiting.includes(w)) w.sessionMoved?.()
  }

  /** GOAWAY to every session; each closes once its streams are done. Resolves when all are gone. */
  close(): Promise<void> {
    this.#closing = true
    this.#failWaiting()
    const closed = this.#entries.map((e) => new Promise<void>((resolve) => (e.session.closed || e.session.destroyed ? resolve() : e.session.once('close', () => resolve()))))
    for (const e of [...this.#entries]) {
      e.retired = true
      if (e.streams === 0) e.session.close()
    }
    return Promise.all(closed).then(() => undefined)
  }

  /** Cut every session now. */
  destroy(): void {
    this.#closing = true
    this.#failWaiting()
    for (const e of [...this.#entries]) e.session.destroy()
  }

  /** The session for a stream; undefined: every session open is retired, and there are maxSessions of them. */
  #pick(): Entry | undefined {
    let best: Entry | undefined
    for (const e of this.#entries) {
      if (e.retired) continue
      if (best === undefined || e.streams / e.limit < best.streams / best.limit) best = e
    }
    const max = this.#options.maxSessions
    const full = max > 0 && this.#entries.length >= max
    if (best !== undefined && (best.streams < best.limit || full)) return best
    // a retired session still open (its streams finishing) is a connection all the same
    if (full) return undefined
    return this.#connect()
  }

  /** Streams waiting for a session: a session closed, or the cap rose. */
  #serveWaiting(): void {
    while (this.#waiting.length > 0 && !this.#closing) {
      const entry = this.#pick()
      if (entry === undefined) return
      this.#assign(entry, this.#waiting.shift() as SessionWaiter)
    }
  }

  /** The pool closes: nothing of the waiting streams went, as safe to send elsewhere as a refused connect. */
  #failWaiting(): void {
    const waiting = this.#waiting.splice(0)
    const err = new Error(`h2 sessions to ${this.address.url} closed before a stream could go`)
    for (const w of waiting) w.sessionFailed(err)
  }

  #connect(): Entry {
    const a = this.address
    const authority = `${a.tls ? 'https' : 'http'}://${a.hostname.includes(':') ? `[${a.hostname}]` : a.hostname}:${a.port}`
    const session = http2.connect(authority, {
      // SNI only for names, never for IP addresses (RFC 6066)
      ...(a.tls && { servername: net.isIP(a.hostname) ? '' : a.hostname, ALPNProtocols: ['h2'] }),
      maxSessionMemory: 32,
      maxHeaderListPairs: 256,
      // the node's SETTINGS usually arrive before the first stream; until then, a safe guess
      peerMaxConcurrentStreams: 100,
      settings: { enablePush: false, maxHeaderListSize: this.#options.maxHeaderListSize },
    })
    const entry = new Entry(session)
    this.#entries.push(entry)
    entry.timer = this.#clock.setTimeout(() => {
      if (!entry.connected) session.destroy(new Error(`connect timeout after ${this.#options.connectTimeout}ms`))
    }, this.#options.connectTimeout)
    // up once the node's first SETTINGS arrived: it speaks h2 (a TCP accept alone proves
    // nothing) and its stream limit is known before streams are spread
    session.on('remoteSettings', (settings) => {
      // a node that takes no stream at all (SETTINGS_MAX_CONCURRENT_STREAMS 0: shutting down,
      // or broken): nghttp2 would hold the streams sent to it until their request_timeout.
      // The session takes no new one; the streams open on it finish
      if (settings.maxConcurrentStreams === 0) entry.retired = true
      if (entry.connected) return
      this.#clearTimer(entry)
      entry.connected = true
      const waiters = entry.waiters
      entry.waiters = []
      if (entry.retired) {
        // nothing of them went: as safe to send elsewhere as a refused connect
        entry.streams -= waiters.length
        const err = new Error(`h2 node ${a.url} allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)`)
        for (const w of waiters) w.sessionFailed(err)
        if (entry.streams <= 0) session.close()
        return
      }
      for (const w of waiters) w.sessionReady(session)
      if (entry.streams === 0) this.#idle(entry)
    })
    session.on('goaway', (_code: number, lastStreamId: number) => {
      entry.retired = true
      // a second GOAWAY may only lower it (RFC 9113 6.8)
      const before = goawayLastStream.get(session)
      if (before === undefined || lastStreamId < before) goawayLastStream.set(session, lastStreamId)
    })
    session.on('error', (err) => {
      entry.retired = true
      entry.error = a.tls ? untrustedNode(a.url, err) : err
    })
    session.once('close', () => {
      this.#clearTimer(entry)
      entry.retired = true
      const i = this.#entries.indexOf(entry)
      if (i >= 0) this.#entries.splice(i, 1)
      const waiters = entry.waiters
      entry.waiters = []
      const err = entry.error ?? new Error(`h2 session to ${a.url} closed before it connected`)
      for (const w of waiters) w.sessionFailed(err)
      // a slot under maxSessions is free
      this.#serveWaiting()
    })
    // a session must not keep the process alive on its own
    session.unref()
    return entry
  }

  #idle(entry: Entry): void {
    this.#clearTimer(entry)
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = null
      if (entry.streams === 0) {
        entry.retired = true
        entry.session.close()
      }
    }, this.#options.idleTimeout)
  }

  #clearTimer(entry: Entry): void {
    if (entry.timer !== null) {
      this.#clock.clearTimeout(entry.timer)
      entry.timer = null
    }
  }
}

/** Node's (OpenSSL's) codes for a peer certificate that does not verify. */
const UNTRUSTED_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * A TLS error that says the node's certificate does not verify, as an error naming the
 * node and the way to trust its CA (the same as for https:// urls: Node's CA store plus
 * NODE_EXTRA_CA_CERTS); any other error as it was.
 */
export function untrustedNode(url: string, err: Error): Error {
  const code = (err as { code?: string }).code
  if (code === undefined || !UNTRUSTED_CODES.has(code)) return err
  return new CutoverError(
    'CUTOVER_ERR_UPSTREAM_TLS',
    `TLS to ${url}: the node's certificate is not trusted (${code}: ${err.message}); give cutover its CA with NODE_EXTRA_CA_CERTS, as for https:// nodes`,
    { cause: err },
  )
}
