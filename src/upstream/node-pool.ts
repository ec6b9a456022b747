/**
 * The connections of one process to one node: idle keep-alive connections reused most
 * recently used first, at most maxConnections open (beyond, requests wait in line for one
 * to come free), idle ones closed after idleTimeout (or sooner, when the node's Keep-Alive
 * header says it closes them sooner). A connection that answered garbage,
 * timed out or was cut is discarded by its user, never released back.
 */

import type { NodeConfig } from '../config/types.js'
import { type ConnectionOwner, UpstreamConnection } from './connection.js'

/** A request waiting for a connection. */
export interface PoolWaiter {
  /** a connection came free (or was opened) for it */
  granted(conn: UpstreamConnection): void
  /** the node must not take it any more (a rollback, maint, a reload removed it): it goes elsewhere, or stays in line */
  moved(): void
}

export interface NodePoolOptions {
  connectTimeout: number
  /** until the node's response head arrives (proxy.request_timeout); read by the forwarder */
  headersTimeout?: number
  /** most open connections, 0 = no limit (proxy.upstream_max_connections) */
  maxConnections?: number
  /** ms a connection may stay idle before it is closed rather than reused (proxy.upstream_keepalive_timeout) */
  idleTimeout?: number
}

/** proxy.upstream_keepalive_timeout's default: well under the 60-75 s nginx-based nodes (Kong) keep an idle connection */
const IDLE_TIMEOUT = 30_000

/**
 * How long a connection may stay idle when its node said it keeps idle connections
 * `seconds` (a Keep-Alive `timeout=`): a second less, so a request is not sent as the node
 * closes (Node's own servers say 5 and close at 5), half of it under 2 s.
 */
export function idleLimitOf(seconds: number): number {
  return seconds >= 2 ? (seconds - 1) * 1000 : seconds * 500
}

export class NodePool implements ConnectionOwner {
  readonly config: NodeConfig
  connectTimeout: number
  maxConnections: number
  idleTimeout: number
  /** idle connections, least recently used first */
  readonly #idle: UpstreamConnection[] = []
  readonly #waiters: PoolWaiter[] = []
  readonly #all = new Set<UpstreamConnection>()
  /** every open connection: connecting, busy and idle */
  #open = 0
  /** connections opened since the pool was made (cutover_upstream_connections_opened_total) */
  #opened = 0
  #closing = false
  #onEmpty: (() => void) | null = null

  constructor(config: NodeConfig, options: NodePoolOptions) {
    this.config = config
    this.connectTimeout = options.connectTimeout
    this.maxConnections = options.maxConnections ?? 0
    this.idleTimeout = options.idleTimeout ?? IDLE_TIMEOUT
  }

  /** Apply reloaded timeouts and the cap to this node from now on. */
  configure(options: NodePoolOptions): void {
    this.connectTimeout = options.connectTimeout
    this.maxConnections = options.maxConnections ?? 0
    this.idleTimeout = options.idleTimeout ?? IDLE_TIMEOUT
    this.#serveWaiters()
  }

  /** open connections (connecting, busy or idle) */
  get open(): number {
    return this.#open
  }

  get idle(): number {
    return this.#idle.length
  }

  /** requests waiting for a connection at the cap */
  get waiting(): number {
    return this.#waiters.length
  }

  /** connections opened so far */
  get opened(): number {
    return this.#opened
  }

  /**
   * A connection for waiter: an idle one (connected), a new one (connecting), or null when
   * at the cap: then waiter.granted() is called when one comes free.
   */
  acquire(waiter: PoolWaiter, now: number): UpstreamConnection | null {
    const idle = this.#idle
    while (idle.length > 0) {
      const conn = idle.pop()!
      const idleFor = now - conn.idleSince
      if (idleFor < this.idleTimeout && idleFor < conn.idleLimit && !conn.ended && !conn.closed) return conn
      // past the pool's limit: so are all older ones (past only its node's: older ones may not be)
      conn.destroy()
      if (idleFor >= this.idleTimeout) for (const old of idle.splice(0)) old.destroy()
    }
    if (this.#closing) return this.#connect()
    if (this.maxConnections > 0 && this.#open >= this.maxConnections) {
      this.#waiters.push(waiter)
      return null
    }
    return this.#connect()
  }

  /** The node must take no more new requests: each waiting one is told (it may cancel and go elsewhere). */
  moveWaiters(): void {
    for (const waiter of [...this.#waiters]) waiter.moved()
  }

  /** The waiter gave up (its client left or its time ran out). */
  cancel(waiter: PoolWaiter): void {
    const i = this.#waiters.indexOf(waiter)
    if (i >= 0) this.#waiters.splice(i, 1)
  }

  /** A clean, whole exchange is over on conn: reuse it. */
  release(conn: UpstreamConnection, now: number): void {
    conn.user = null
    if (conn.closed || conn.ended || this.#closing) {
      conn.destroy()
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) {
      waiter.granted(conn)
      return
    }
    conn.idleSince = now
    this.#idle.push(conn)
  }

  /** conn must not be reused (garbage, timeout, cut, or a request not sent whole). */
  discard(conn: UpstreamConnection): void {
    conn.user = null
    conn.destroy()
  }

  connectionClosed(conn: UpstreamConnection): void {
    this.#open--
    this.#all.delete(conn)
    const i = this.#idle.indexOf(conn)
    if (i >= 0) this.#idle.splice(i, 1)
    this.#serveWaiters()
    if (this.#open === 0 && this.#onEmpty !== null) this.#onEmpty()
  }

  /** Close idle connections now and the others once their exchange is over. */
  close(): Promise<void> {
    this.#closing = true
    for (const conn of this.#idle.splice(0)) conn.destroy()
    return this.#whenEmpty()
  }

  /** Close every connection now, busy ones included. */
  destroy(): Promise<void> {
    this.#closing = true
    const done = this.#whenEmpty()
    for (const conn of this.#idle.splice(0)) conn.destroy()
    for (const conn of [...this.#all]) conn.destroy()
    return done
  }

  #whenEmpty(): Promise<void> {
    if (this.#open === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const previous = this.#onEmpty
      this.#onEmpty = () => {
        previous?.()
        resolve()
      }
    })
  }

  #connect(): UpstreamConnection {
    this.#open++
    this.#opened++
    const conn = new UpstreamConnection(this, this.config, true)
    this.#all.add(conn)
    return conn
  }

  /** Open connections for waiters while under the cap (a connection closed, or the cap rose). */
  #serveWaiters(): void {
    while (this.#waiters.length > 0 && (this.maxConnections === 0 || this.#open < this.maxConnections)) {
      this.#waiters.shift()!.granted(this.#connect())
    }
  }
}
