/**
 * Upgrade requests (WebSocket): the request head goes to a node over a connection of its
 * own, the node's answer must come within request_timeout, then bytes flow both ways
 * untouched until either side closes. Retries follow routing/fallback.ts, like requests.
 */

import type { PoolName } from '../config/types.js'
import { parseResponseHead, type RequestHead } from '../http1/index.js'
import type { FailureKind } from '../outcome/outcome-sink.js'
import { isIdempotent } from '../routing/fallback.js'
import { type ConnectionOwner, type ConnectionUser, UpstreamConnection } from '../upstream/connection.js'
import type { UpstreamNode } from '../upstream/node.js'
import { failureAnswer, failureBytes, RAW } from './answers.js'
import type { ClientSide } from './client-side.js'
import { authority, MAX_RESPONSE_HEAD, upstreamRequestHead } from './headers.js'

/** tunnels own their connections: nobody pools them */
const UNPOOLED: ConnectionOwner = { connectionClosed() {} }

export class Tunnel implements ConnectionUser {
  readonly client: ClientSide
  readonly head: RequestHead
  readonly start: number
  #requestHead: string
  pool: PoolName
  node: UpstreamNode | null = null
  conn: UpstreamConnection | null = null
  tried: UpstreamNode[] = []
  attempts = 0
  /** client bytes to send once connected (what came with the head, and after it) */
  #pending: Buffer[] = []
  #sentEarly = false
  /** the node's answer began: bytes now pass untouched */
  #open = false
  #rbuf: Buffer | null = null
  /** monotonic ms: connect or answer deadline; 0 = none */
  deadline = 0
  #over = false

  constructor(client: ClientSide, head: RequestHead, rest: Buffer | null) {
    const fw = client.fw
    this.client = client
    this.head = head
    this.start = fw.clock.monotonic()
    this.#requestHead = ''
    if (rest !== null) this.#pending.push(rest)
    this.pool = fw.pickPool(head, client.remoteAddress)
    const node = fw.firstNode(this.pool)
    if (node === undefined) {
      fw.sink.finished(this.pool, 503, fw.clock.monotonic() - this.start)
      this.#over = true
      client.answerAndClose(RAW.noNode.close)
      return
    }
    this.#attempt(node)
  }

  #attempt(node: UpstreamNode): void {
    const fw = this.client.fw
    this.node = node
    this.attempts++
    node.inflight++
    fw.sink.attemptStarted(node)
    const conn = new UpstreamConnection(UNPOOLED, node.config)
    conn.user = this
    this.conn = conn
    this.deadline = fw.clock.monotonic() + fw.proxy.connect_timeout
  }

  onUpstreamConnect(conn: UpstreamConnection): void {
    const fw = this.client.fw
    // the node's answer to the upgrade must come in time, or the client would wait for ever
    this.deadline = fw.clock.monotonic() + fw.proxy.request_timeout
    const socket = conn.socket
    this.#requestHead = upstreamRequestHead(this.head, this.client.address, fw.https, true, authority(this.node!))
    socket.cork()
    socket.write(this.#requestHead, 'latin1')
    for (const b of this.#pending) socket.write(b)
    if (this.#pending.length > 0) this.#sentEarly = true
    this.#pending = []
    socket.uncork()
    this.client.resume()
  }

  /** Client bytes: to the node, or held until it is connected. */
  fromClient(chunk: Buffer): void {
    const conn = this.conn
    if (conn === null || !conn.connected) {
      this.#pending.push(chunk)
      this.client.pause()
      return
    }
    this.#sentEarly = true
    if (!conn.socket.write(chunk)) this.client.pause()
  }

  onUpstreamDrain(): void {
    this.client.resume()
  }

  onClientDrain(): void {
    this.conn?.socket.resume()
  }

  onUpstreamData(conn: UpstreamConnection, chunk: Buffer): void {
    if (this.#open) {
      if (!this.client.write(chunk)) conn.socket.pause()
      return
    }
    const buf = this.#rbuf === null ? chunk : Buffer.concat([this.#rbuf, chunk])
    const r = parseResponseHead(buf, MAX_RESPONSE_HEAD, this.head.method)
    if (r.kind === 'partial') {
      this.#rbuf = buf
      return
    }
    this.#rbuf = null
    if (r.kind === 'refused') {
      this.#fail('protocol')
      return
    }
    // the answer, whatever it is (101, or a refusal), passes as the node wrote it
    const fw = this.client.fw
    const node = this.node!
    this.#open = true
    this.deadline = 0
    const ms = fw.clock.monotonic() - this.start
    fw.sink.answered(node, r.head.status, ms)
    fw.sink.finished(node.pool, r.head.status, ms)
    this.#over = true
    this.client.resume()
    if (!this.client.write(buf)) conn.socket.pause()
  }

  onUpstreamEnd(): void {
    // the node is done sending: so is the client's side
    if (this.#open && !this.client.socket.destroyed) this.client.socket.end()
  }

  onUpstreamClose(conn: UpstreamConnection, err: Error | null): void {
    if (this.conn !== conn) return
    this.conn = null
    if (this.#open) {
      this.#endAttempt()
      this.client.destroy()
      return
    }
    this.#fail(conn.connected ? 'reset' : 'connect', err)
  }

  clientEnded(): void {
    const conn = this.conn
    if (conn !== null && this.#open) conn.socket.end()
    else this.clientClosed()
  }

  clientClosed(): void {
    const conn = this.conn
    this.conn = null
    if (conn !== null) conn.destroy()
    this.#endAttempt()
    if (!this.#over) {
      this.#over = true
      const fw = this.client.fw
      fw.sink.finished(this.pool, 499, fw.clock.monotonic() - this.start)
    }
  }

  /** The connect or the answer took too long. */
  expire(): void {
    this.deadline = 0
    if (this.#open || this.conn === null) return
    this.#fail(this.conn.connected ? 'timeout' : 'connect')
  }

  #fail(kind: FailureKind, _err?: Error | null): void {
    const fw = this.client.fw
    const node = this.node!
    fw.sink.attemptFailed(node, kind)
    const conn = this.conn
    this.conn = null
    if (conn !== null) conn.destroy()
    this.#endAttempt()
    this.tried.push(node)
    if (!this.client.closed) {
      const next = fw.nextNode({
        failed: node,
        kind,
        attempts: this.attempts,
        tried: this.tried,
        idempotent: isIdempotent(this.head.method),
        bodySent: this.#sentEarly,
      })
      if (next !== undefined) {
        this.#attempt(next)
        return
      }
    }
    const status = failureAnswer(kind).status
    this.#over = true
    fw.sink.finished(node.pool, status, fw.clock.monotonic() - this.start)
    this.client.answerAndClose(failureBytes(kind, true))
  }

  #endAttempt(): void {
    const node = this.node
    if (node === null) return
    this.node = null
    this.deadline = 0
    node.inflight--
    this.client.fw.sink.attemptEnded(node)
  }
}
