/**
 * The shadow copies' own HTTP/1.1 client: the engine's node connection (upstream/
 * connection.ts) and codec (http1/), but connections of its own, apart from the node pools
 * real traffic uses, so a slow y never holds a connection a client needs. Lean on purpose:
 * no promise, no AbortSignal and no timer per request (the shadower sweeps the deadlines);
 * a cut request costs one socket destroy.
 */

import { ChunkedDecoder, parseResponseHead } from '../http1/index.js'
import { type ConnectionOwner, type ConnectionUser, UpstreamConnection } from '../upstream/connection.js'
import type { NodeConfig } from '../config/types.js'
import { isIdempotent } from '../routing/fallback.js'
import { idleLimitOf } from '../upstream/node-pool.js'

/** a y response head longer than this is a failure */
const MAX_RESPONSE_HEAD = 64 * 1024
/**
 * bytes of an answer that are not its body (heads, 1xx, chunk framing) allowed besides
 * FRAMING_PER_BYTE for each body byte: past them y is failed, not read at wire speed
 * (endless 1xx heads or a chunk extension without end never grow the body)
 */
const FRAMING_BASE = 256 * 1024
/** 1-byte chunks cost 5 bytes of framing each: room for that */
const FRAMING_PER_BYTE = 8
/**
 * an idle connection kept longer than this is closed (below Kong's 60 s keep-alive); sooner
 * when y's Keep-Alive says it keeps idle connections for less (idleLimitOf: a second less,
 * half of it under 2 s), so a copy is not sent on a connection y is closing
 */
export const IDLE_MS = 4000

/** how long conn may stay idle: IDLE_MS, or less by y's own word */
function idleFor(conn: UpstreamConnection): number {
  return Math.min(IDLE_MS, conn.idleLimit)
}

/** What a request's answer goes to: its head, its body's pieces (valid during the call), its end, or why not. */
export interface YReceiver {
  yHead(status: number, headers: string[]): void
  yBody(chunk: Buffer): void
  yDone(): void
  yFailed(reason: string): void
}

/** A request on its way: cut() ends it (its connection closed), its receiver told nothing more. */
export interface YRequestHandle {
  cut(): void
  /** stop reading the answer (its socket waits) until resume() */
  pause(): void
  resume(): void
}

const enum Body {
  Head,
  None,
  Length,
  Chunked,
  Close,
  Done,
}

export class YClient implements ConnectionOwner {
  /** idle keep-alive connections by node name, oldest first */
  readonly #idle = new Map<string, UpstreamConnection[]>()
  #idleCount = 0
  readonly #maxIdle: () => number
  readonly #now: () => number
  /** requests on their way */
  readonly #active = new Set<YExchange>()

  /** maxIdle: idle connections kept at most (all nodes together); now: monotonic ms */
  constructor(maxIdle: () => number, now: () => number) {
    this.#maxIdle = maxIdle
    this.#now = now
  }

  /** Send one request (head: request line and headers, latin1, ending in the empty line). */
  request(node: NodeConfig, method: string, head: string, body: Buffer | undefined, receiver: YReceiver): YRequestHandle {
    const conn = this.#takeIdle(node.name) ?? new UpstreamConnection(this, node)
    const ex = new YExchange(this, node, conn, method, head, body, receiver)
    this.#active.add(ex)
    conn.user = ex
    if (conn.connected) ex.onUpstreamConnect(conn)
    return ex
  }

  get idle(): number {
    return this.#idleCount
  }

  /** Close connections idle for longer than IDLE_MS, or than y said it keeps them. */
  sweepIdle(now: number): void {
    for (const [name, list] of this.#idle) {
      // oldest first, each with its own limit (at most the cap of them in all)
      for (let i = 0; i < list.length; ) {
        const conn = list[i]
        if (now - conn.idleSince <= idleFor(conn)) i++
        else {
          list.splice(i, 1)
          this.#idleCount--
          conn.destroy()
        }
      }
      if (list.length === 0) this.#idle.delete(name)
    }
  }

  /** A fresh connection to node (a request sent again after y closed a kept one). */
  connect(node: NodeConfig): UpstreamConnection {
    return new UpstreamConnection(this, node)
  }

  /** Everything closed: idle connections and requests on their way (their receivers told). */
  close(): void {
    for (const ex of [...this.#active]) ex.fail('shadowing stopped')
    for (const list of [...this.#idle.values()]) for (const conn of [...list]) conn.destroy()
  }

  connectionClosed(conn: UpstreamConnection): void {
    for (const [name, list] of this.#idle) {
      const i = list.indexOf(conn)
      if (i < 0) continue
      list.splice(i, 1)
      this.#idleCount--
      if (list.length === 0) this.#idle.delete(name)
      return
    }
  }

  /** An exchange is over: its connection kept for the next request, or closed. */
  released(ex: YExchange, conn: UpstreamConnection, reuse: boolean): void {
    this.#active.delete(ex)
    conn.user = null
    // idleFor 0: y said Keep-Alive: timeout=0, it keeps no idle connection (never parked,
    // where it would hold a slot of maxIdle and a socket until the sweep)
    if (!reuse || conn.closed || conn.ended || idleFor(conn) <= 0 || this.#idleCount >= this.#maxIdle()) {
      conn.destroy()
      return
    }
    conn.idleSince = this.#now()
    let list = this.#idle.get(ex.node.name)
    if (list === undefined) this.#idle.set(ex.node.name, (list = []))
    list.push(conn)
    this.#idleCount++
  }

  #takeIdle(node: string): UpstreamConnection | undefined {
    const list = this.#idle.get(node)
    const now = list === undefined ? 0 : this.#now()
    while (list !== undefined && list.length > 0) {
      const conn = list.pop()!
      this.#idleCount--
      if (list.length === 0) this.#idle.delete(node)
      // past y's word: y may be closing it as the request goes
      if (!conn.closed && !conn.ended && now - conn.idleSince < idleFor(conn)) return conn
      conn.destroy()
    }
    return undefined
  }
}

class YExchange implements ConnectionUser, YRequestHandle {
  readonly #client: YClient
  readonly node: NodeConfig
  #conn: UpstreamConnection
  readonly #method: string
  #head: string | null
  #body: Buffer | undefined
  /**
   * the request kept to be sent once more, on a new connection, when the kept one it went on
   * is closed before any byte of the answer (y closed it idle as the request went: RFC 9112
   * 9.3.1); idempotent methods only, once; null otherwise
   */
  #again: { head: string; body: Buffer | undefined } | null
  readonly #receiver: YReceiver
  #stage = Body.Head
  #rbuf: Buffer | null = null
  #left = 0
  #decoder: ChunkedDecoder | null = null
  #keepAlive = false
  /** bytes read of the answer, and of its body */
  #read = 0
  #bodyRead = 0

  constructor(client: YClient, node: NodeConfig, conn: UpstreamConnection, method: string, head: string, body: Buffer | undefined, receiver: YReceiver) {
    this.#client = client
    this.node = node
    this.#conn = conn
    this.#method = method
    this.#head = head
    this.#body = body
    this.#again = conn.uses > 0 && isIdempotent(method) ? { head, body } : null
    this.#receiver = receiver
  }

  /** The kept connection closed before any byte of the answer: the request goes once more on a new one. */
  #sendAgain(): boolean {
    const again = this.#again
    if (again === null || this.#read > 0 || this.#stage !== Body.Head) return false
    this.#again = null
    const old = this.#conn
    old.user = null
    old.destroy()
    this.#head = again.head
    this.#body = again.body
    const conn = this.#client.connect(this.node)
    this.#conn = conn
    conn.user = this
    return true
  }

  cut(): void {
    if (this.#stage === Body.Done) return
    this.#stage = Body.Done
    this.#client.released(this, this.#conn, false)
  }

  pause(): void {
    if (this.#stage !== Body.Done) this.#conn.socket.pause()
  }

  resume(): void {
    if (this.#stage !== Body.Done) this.#conn.socket.resume()
  }

  /** End with a failure the receiver hears. */
  fail(reason: string): void {
    if (this.#stage === Body.Done) return
    this.cut()
    this.#receiver.yFailed(reason)
  }

  onUpstreamConnect(conn: UpstreamConnection): void {
    const head = this.#head
    if (head === null) return
    this.#head = null
    const body = this.#body
    this.#body = undefined
    conn.uses++
    if (body === undefined || body.length === 0) conn.socket.write(head, 'latin1')
    else {
      conn.socket.cork()
      conn.socket.write(head, 'latin1')
      conn.socket.write(body)
      conn.socket.uncork()
    }
  }

  onUpstreamData(_conn: UpstreamConnection, chunk: Buffer): void {
    this.#read += chunk.length
    if (this.#stage === Body.Head) this.#responseHead(chunk)
    else if (this.#stage !== Body.Done) this.#bodyData(chunk)
    if (this.#stage !== Body.Done && this.#read - this.#bodyRead > FRAMING_BASE + FRAMING_PER_BYTE * this.#bodyRead)
      this.fail(`y's answer is mostly framing (${this.#read} bytes, ${this.#bodyRead} of body)`)
  }

  #piece(piece: Buffer): void {
    this.#bodyRead += piece.length
    this.#receiver.yBody(piece)
  }

  onUpstreamEnd(_conn: UpstreamConnection): void {
    if (this.#stage === Body.Close) this.#done(false)
    else if (!this.#sendAgain()) this.fail('y closed the connection before its answer was whole')
  }

  onUpstreamDrain(_conn: UpstreamConnection): void {}

  onUpstreamClose(_conn: UpstreamConnection, err: Error | null): void {
    if (this.#stage === Body.Close) this.#done(false)
    else if (!this.#sendAgain()) this.fail(err === null ? 'y closed the connection before its answer was whole' : err.message)
  }

  #responseHead(chunk: Buffer): void {
    let buf = this.#rbuf === null ? chunk : Buffer.concat([this.#rbuf, chunk])
    this.#rbuf = null
    for (;;) {
      const r = parseResponseHead(buf, MAX_RESPONSE_HEAD, this.#method)
      if (r.kind === 'partial') {
        this.#rbuf = buf
        return
      }
      if (r.kind === 'refused') {
        this.fail(`y's response head: ${r.reason}`)
        return
      }
      const rest = buf.subarray(r.length)
      const res = r.head
      if (res.status < 200) {
        // 1xx interim answers are skipped; an upgrade nobody asked for is a failure
        if (res.status === 101) {
          this.fail('y answered 101 to a copy')
          return
        }
        if (rest.length === 0) return
        buf = rest
        continue
      }
      this.#keepAlive = res.keepAlive
      // an answer began: the request is not sent again
      this.#again = null
      const kept = res.keepAliveTimeout
      if (kept !== undefined && kept >= 0) this.#conn.idleLimit = idleLimitOf(kept)
      switch (res.framing.kind) {
        case 'length':
          this.#stage = Body.Length
          this.#left = res.framing.length
          break
        case 'chunked':
          this.#stage = Body.Chunked
          this.#decoder = new ChunkedDecoder()
          break
        case 'close':
          this.#stage = Body.Close
          break
        default:
          this.#stage = Body.None
      }
      this.#receiver.yHead(res.status, res.headers)
      if (this.#stage === Body.None) this.#done(rest.length === 0)
      else if (this.#stage === Body.Length && this.#left === 0) this.#done(rest.length === 0)
      else if (rest.length > 0) this.#bodyData(rest)
      return
    }
  }

  #bodyData(chunk: Buffer): void {
    switch (this.#stage) {
      case Body.Length: {
        const piece = chunk.length > this.#left ? chunk.subarray(0, this.#left) : chunk
        this.#left -= piece.length
        this.#piece(piece)
        // bytes past the body: the node broke the framing, the connection is not reused
        if (this.#left === 0) this.#done(chunk.length === piece.length)
        return
      }
      case Body.Chunked: {
        const r = this.#decoder!.push(chunk)
        for (const piece of r.data) this.#piece(piece)
        if (r.error !== null) this.fail(`y's chunked body: ${r.error}`)
        else if (r.done) this.#done(r.consumed === chunk.length)
        return
      }
      case Body.Close:
        this.#piece(chunk)
        return
      default:
        // bytes after a body-less answer: not reused
        this.#done(false)
    }
  }

  /** The answer is whole. */
  #done(reusable: boolean): void {
    if (this.#stage === Body.Done) return
    this.#stage = Body.Done
    // held (pause) in the middle of the read that brought the end: kept connections read on
    if (this.#conn.socket.isPaused()) this.#conn.socket.resume()
    this.#client.released(this, this.#conn, reusable && this.#keepAlive)
    this.#receiver.yDone()
  }
}
