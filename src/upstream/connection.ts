/**
 * One connection from cutover to a node: a TCP or TLS socket and the exchange using it
 * now. It knows nothing of HTTP; the user (forwarding/exchange.ts) parses what arrives.
 */

import type { Socket } from 'node:net'
import type { NodeConfig } from '../config/types.js'
import { type Holder, ReadSlot, unsentBytes } from './read-buffers.js'

const net = process.getBuiltinModule('node:net')
const tls = process.getBuiltinModule('node:tls')

/** What a connection reports to whoever uses it now. */
export interface ConnectionUser {
  onUpstreamConnect(conn: UpstreamConnection): void
  onUpstreamData(conn: UpstreamConnection, chunk: Buffer): void
  /** the node ended its side (FIN) */
  onUpstreamEnd(conn: UpstreamConnection): void
  onUpstreamDrain(conn: UpstreamConnection): void
  /** the socket is gone; err is the error that closed it, if any */
  onUpstreamClose(conn: UpstreamConnection, err: Error | null): void
}

/**
 * A plain-TCP node connection reads into a reused buffer: READ_FIRST bytes of its own
 * (nginx's proxy_buffer_size: one page, enough for a small answer's head and body) until a
 * read fills it, then READ_SIZE buffers from the shared set in read-buffers.ts for the rest
 * of the connection's life. Every pooled connection holds its buffer while it lives (Node
 * binds the next read's buffer after each read), so starting small keeps a pool of small
 * answers at 4 KiB per connection instead of READ_SIZE (issue 10: ~7 MiB at 1,000 clients
 * with 64 KiB); a large answer costs one extra read, once.
 */
export const READ_FIRST = 4 * 1024

/** The pool side of a connection: told when it closes. */
export interface ConnectionOwner {
  connectionClosed(conn: UpstreamConnection): void
}

const NOTHING = Buffer.alloc(0)

export class UpstreamConnection {
  readonly socket: Socket
  readonly owner: ConnectionOwner
  user: ConnectionUser | null = null
  connected = false
  closed = false
  /** the node ended its side: never reuse */
  ended = false
  /** monotonic ms when it went idle */
  idleSince = 0
  /** ms it may stay idle by the node's own word (its Keep-Alive timeout, less a margin); Infinity: it said nothing */
  idleLimit = Number.POSITIVE_INFINITY
  /** requests it carried */
  uses = 0
  #error: Error | null = null
  /** with reused reads: the buffer the next read goes into */
  readonly #reads: ReadSlot | null
  /** plain TCP: the node's end is checked for a reset before it counts (#onEnd) */
  readonly #checkEnd: boolean

  /**
   * reuseReads: a plain-TCP connection reads into one buffer (read-buffers.ts), reused from read
   * to read (no Buffer and no stream push per read); each chunk given to onUpstreamData is
   * then valid only during that call unless the user sets `retained`. TLS connections
   * always read fresh Buffers.
   */
  constructor(owner: ConnectionOwner, config: NodeConfig, reuseReads = false) {
    this.owner = owner
    const https = config.protocol === 'https:'
    this.#reads = https || !reuseReads ? null : new ReadSlot(READ_FIRST)
    this.#checkEnd = !https
    // plain TCP: half-open, so that the node's end can be checked before our side ends (#onEnd)
    const socket = https
      ? tls.connect({ host: config.hostname, port: config.port, servername: net.isIP(config.hostname) ? undefined : config.hostname, ALPNProtocols: ['http/1.1'] })
      : reuseReads
        ? net.connect({ host: config.hostname, port: config.port, allowHalfOpen: true, onread: { buffer: this.#nextBuffer, callback: this.#onRead } })
        : net.connect({ host: config.hostname, port: config.port, allowHalfOpen: true })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on(https ? 'secureConnect' : 'connect', this.#onConnect)
    if (https || !reuseReads) socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('drain', this.#onDrain)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
  }

  /** Close now; the user, if any, hears onUpstreamClose. */
  destroy(): void {
    if (!this.closed) this.socket.destroy()
  }

  #onConnect = (): void => {
    this.connected = true
    if (this.user !== null) this.user.onUpstreamConnect(this)
  }

  #onData = (chunk: Buffer): void => {
    if (this.user !== null) this.user.onUpstreamData(this, chunk)
    // bytes while idle: the node broke the framing; never reuse this connection
    else this.socket.destroy()
  }

  /**
   * With reused reads: the user keeps the last chunk past onUpstreamData (a partial head,
   * bytes it holds): the next read goes into another buffer and this one is left to it.
   */
  retain(): void {
    if (this.#reads !== null) this.#reads.retain()
  }

  /**
   * With reused reads: the last chunk (or part of it) sits in holder's write queue. The
   * buffer is reused once that queue is empty, not before (upstream/read-buffers.ts).
   */
  lend(holder: Holder): void {
    if (this.#reads !== null) this.#reads.lend(holder)
  }

  /** the buffer the next read goes into: the same one unless the last chunk is still held or outgrew it */
  #nextBuffer = (): Buffer => this.#reads!.next()

  /** the size of the buffer the next read goes into (tests) */
  get readBufferSize(): number {
    return this.#reads === null ? 0 : this.#reads.size
  }

  /** buf is the one #nextBuffer gave (a Buffer); true: go on reading (pause() still pauses) */
  #onRead = (nread: number, buf: Uint8Array): boolean => {
    this.#reads!.read(nread)
    this.#onData((buf as Buffer).subarray(0, nread))
    return true
  }

  /**
   * The node ended its side, or reset the connection: Node 20's libuv reports a reset that
   * comes behind bytes not read yet (a socket paused for a slow client) as a plain end (a
   * short read, then POLLHUP), and an answer read until the close would pass for whole. A
   * write of nothing tells them apart: it fails on a reset connection (the close then
   * carries the error) and does nothing on one the node ended, whose end then counts, and
   * ours follows, as it would without half-open. Not while writes are pending (a request
   * body the node no longer reads): the check would wait for them.
   */
  #onEnd = (): void => {
    this.ended = true
    const socket = this.socket
    if (!this.#checkEnd || socket.destroyed) {
      this.#ended()
      return
    }
    if (!socket.writableEnded && unsentBytes(socket) === 0) {
      socket.write(NOTHING, this.#endChecked)
      return
    }
    socket.end()
    this.#ended()
  }

  #endChecked = (err?: Error | null): void => {
    const socket = this.socket
    if (err != null) {
      this.#error ??= err
      socket.destroy()
      return
    }
    if (socket.destroyed) return
    socket.end()
    this.#ended()
  }

  #ended(): void {
    if (this.user !== null) this.user.onUpstreamEnd(this)
    else this.socket.destroy()
  }

  #onDrain = (): void => {
    if (this.user !== null) this.user.onUpstreamDrain(this)
  }

  #onError = (err: Error): void => {
    this.#error = err
  }

  #onClose = (): void => {
    this.closed = true
    const user = this.user
    this.user = null
    this.owner.connectionClosed(this)
    if (user !== null) user.onUpstreamClose(this, this.#error)
  }
}
