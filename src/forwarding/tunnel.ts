/**
 * Upgrade requests (WebSocket): the request head (and its body, if any) goes to a node
 * over a connection of its own (the body held to max_body_size, an Expect: 100-continue
 * answered by cutover, 1xx interim answers relayed without their hop-by-hop fields, as an
 * ordinary request's), the node's answer must come within request_timeout, then,
 * after a 101, bytes flow both ways untouched until either side closes. A 101 must name in
 * Upgrade the protocols it switches to, each one the client asked for (RFC 9110 7.8), or
 * the client gets a 502 (a failed attempt, 'protocol'); it goes on without its hop-by-hop
 * fields and Content-Length (headers.ts switchHead), Upgrade and Connection: upgrade kept. What the client
 * sent behind the request before the 101 is held until then. A node that declines the upgrade (any
 * final answer) has its answer relayed by its framing, hop-by-hop fields dropped, and the
 * client's connection closes after it: nothing more the client sends reaches that node,
 * so a connection is never held outside the split. Retries follow routing/fallback.ts,
 * like requests.
 */

import type { PoolName } from '../config/types.js'
import { ChunkedDecoder, parseResponseHead, type RequestHead, type ResponseHead } from '../http1/index.js'
import type { FailureKind } from '../outcome/outcome-sink.js'
import { isIdempotent } from '../routing/fallback.js'
import { type ConnectionOwner, type ConnectionUser, UpstreamConnection } from '../upstream/connection.js'
import type { UpstreamNode } from '../upstream/node.js'
import { badRequestBytes, CONTINUE, failureAnswer, failureBytes, forMethod, RAW } from './answers.js'
import type { ClientSide } from './client-side.js'
import { recordRequest } from './access-log.js'
import { errorWhy } from './failure-log.js'
import type { LongLived } from './forwarder.js'
import { authority, ClientFraming, clientResponseHead, interimHead, LAST_CHUNK, MAX_RESPONSE_HEAD, notOffered, switchHead, upgradeProtocols, upstreamRequestHead } from './headers.js'

/** tunnels own their connections: nobody pools them */
const UNPOOLED: ConnectionOwner = { connectionClosed() {} }
const NOTHING = Buffer.alloc(0)
/** bytes a client may send after its upgrade request before the node switched: beyond, it is not read until then (as client-connection.ts's HOLD_LIMIT) */
const HELD_LIMIT = 64 * 1024

/** The answer of a node that declined the upgrade, on its way to the client. */
interface Declined {
  /** body bytes still due (Content-Length) */
  left: number
  /** a chunked body's decoder, which finds its end */
  decoder: ChunkedDecoder | null
  /**
   * the body ends when the node closes: relayed chunked (the client is HTTP/1.1, as every
   * upgrade's: an HTTP/1.0 request's Upgrade is ignored), so one the node cut reads as cut
   */
  untilClose: boolean
}

export class Tunnel implements ConnectionUser, LongLived {
  readonly kind = 'websocket'
  readonly client: ClientSide
  readonly head: RequestHead
  readonly start: number
  #requestHead: string
  pool: PoolName
  node: UpstreamNode | null = null
  conn: UpstreamConnection | null = null
  tried: UpstreamNode[] = []
  attempts = 0
  /** the request's body bytes to send once connected */
  #pending: Buffer[] = []
  /** some of the request's body went to the node */
  #sentEarly = false
  /** the request's body bytes still to come (Content-Length); a chunked body's end is found by #bodyDecoder */
  #bodyLeft: number
  #bodyDecoder: ChunkedDecoder | null
  /** the node tried last (the access log names it) */
  #lastNode: UpstreamNode | null = null
  /** the client has its 100 Continue (cutover's or a node's): never a second one */
  #sentContinue = false
  /**
   * The client's bytes after the request (and its body), before the node switched: held,
   * sent once its 101 came. A node that declines the upgrade never gets them, so it never
   * reads them as a request of its own, one cutover did not parse (an nginx node reads on
   * after a declined upgrade); and a retry on another node still has them.
   */
  #held: Buffer[] = []
  #heldBytes = 0
  /** the node's 101 came: bytes now pass untouched */
  #open = false
  /** the node declined the upgrade: its answer is being relayed, then the client's connection closes */
  #declined: Declined | null = null
  #rbuf: Buffer | null = null
  /** the declined answer's bytes wait for the client to take them (the node's socket is paused) */
  #waitingOnClient = false
  /** while waiting on the client: its backlog (ClientSide.unsent) at the last look */
  #clientBacklog = 0
  /** monotonic ms: connect, answer or (a declined answer's body standing still) idle deadline; 0 = none */
  deadline = 0
  #over = false

  constructor(client: ClientSide, head: RequestHead, rest: Buffer | null) {
    const fw = client.fw
    this.client = client
    this.head = head
    this.start = fw.clock.monotonic()
    this.#requestHead = ''
    const framing = head.framing
    this.#bodyLeft = framing.kind === 'length' ? framing.length : 0
    this.#bodyDecoder = framing.kind === 'chunked' ? new ChunkedDecoder() : null
    this.pool = fw.pickPool(head, client.remoteAddress)
    const max = fw.proxy.max_body_size
    if (max > 0 && framing.kind === 'length' && framing.length > max) {
      // as an ordinary request's: refused before any node is contacted
      this.#over = true
      client.answerAndClose(forMethod(RAW.bodyTooLarge, head.method))
      this.#finished(this.pool, 413, fw.clock.monotonic() - this.start)
      return
    }
    const node = fw.firstNode(this.pool)
    if (node === undefined) {
      this.#finished(this.pool, 503, fw.clock.monotonic() - this.start)
      this.#over = true
      client.answerAndClose(forMethod(RAW.noNode.close, head.method))
      return
    }
    this.#attempt(node)
    if (rest !== null) this.#beforeSwitch(rest)
  }

  #attempt(node: UpstreamNode): void {
    this.#lastNode = node
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
    if (this.head.expectContinue && !this.#sentContinue && this.head.versionMinor === 1 && (this.#bodyLeft > 0 || this.#bodyDecoder !== null)) {
      // the node is there and ready for the body: tell the client to send it (as an
      // ordinary request's Expect, which stays with cutover: the node never sees it)
      this.#sentContinue = true
      this.client.write(CONTINUE)
    }
    this.#resumeClient()
  }

  /** Client bytes: to the node once it switched; before, the request's body goes on, what follows it waits (#held). */
  fromClient(chunk: Buffer): void {
    // after a declined upgrade the client's bytes go nowhere: its connection is closing
    if (this.#declined !== null) return
    if (!this.#open) {
      this.#beforeSwitch(chunk)
      return
    }
    if (this.#bodyDecoder !== null && !this.#bodyAfterSwitch(this.#bodyDecoder, chunk)) return
    const conn = this.conn
    if (conn !== null && !conn.socket.write(chunk)) this.client.pause()
  }

  /** Client bytes before the 101: the request's body (by its framing) goes to the node, the rest is held. */
  #beforeSwitch(chunk: Buffer): void {
    let body = chunk
    let after: Buffer | null = null
    const decoder = this.#bodyDecoder
    if (decoder !== null) {
      const r = decoder.push(chunk)
      if (r.error !== null) {
        this.#refuse(400, badRequestBytes(r.error))
        return
      }
      const max = this.client.fw.proxy.max_body_size
      if (max > 0 && decoder.payloadBytes > max) {
        // nothing of this read goes on: the node never gets more than the limit, nor a last chunk
        this.#refuse(413, forMethod(RAW.bodyTooLarge, this.head.method))
        return
      }
      if (r.done) {
        this.#bodyDecoder = null
        body = chunk.subarray(0, r.consumed)
        after = chunk.subarray(r.consumed)
      }
    } else {
      const take = Math.min(this.#bodyLeft, chunk.length)
      this.#bodyLeft -= take
      body = chunk.subarray(0, take)
      after = chunk.subarray(take)
    }
    if (body.length > 0) {
      const conn = this.conn
      if (conn === null || !conn.connected) {
        this.#pending.push(body)
        this.client.pause()
      } else {
        this.#sentEarly = true
        if (!conn.socket.write(body)) this.client.pause()
      }
    }
    if (after !== null && after.length > 0) {
      this.#held.push(after)
      this.#heldBytes += after.length
      if (this.#heldBytes > HELD_LIMIT) this.client.pause()
    }
  }

  /**
   * Client bytes after a 101 that came before the request's chunked body ended: that body is
   * still the request's (a client switches once its request is sent, RFC 9110 7.8), held to
   * its framing and to max_body_size as before the switch; what follows its last chunk is the
   * tunnel's. Once the 101 went out nothing can be answered: a body that breaks its framing or
   * goes over the limit cuts both sides (none of this read goes on), true when the bytes may go on.
   */
  #bodyAfterSwitch(decoder: ChunkedDecoder, chunk: Buffer): boolean {
    const fw = this.client.fw
    const r = decoder.push(chunk)
    let why: string | null = null
    if (r.error !== null) {
      fw.refused('framing')
      why = `broke its framing (${r.error})`
    } else if (fw.proxy.max_body_size > 0 && decoder.payloadBytes > fw.proxy.max_body_size) {
      why = 'went over max_body_size'
    }
    if (why !== null) {
      if (fw.logger.isLevelEnabled('debug')) fw.logger.debug({ node: this.node?.name }, `the upgrade request's chunked body ${why} after the node's 101: both sides cut`)
      this.cut()
      return false
    }
    if (r.done) this.#bodyDecoder = null
    return true
  }

  /** The client may send more: not while what it sent after the request fills the hold, before the switch. */
  #resumeClient(): void {
    if (this.#open || this.#heldBytes <= HELD_LIMIT) this.client.resume()
  }

  /**
   * The upgrade request's chunked body broke its framing (400) or went over max_body_size
   * (413), as any request's: the node's connection is dropped, the client answered, its
   * connection closed.
   */
  #refuse(status: 400 | 413, answer: Buffer): void {
    const fw = this.client.fw
    if (status === 400) fw.refused('framing')
    this.#dropConn()
    this.#over = true
    this.#finished(this.pool, status, fw.clock.monotonic() - this.start)
    this.client.answerAndClose(answer)
  }

  onUpstreamDrain(): void {
    this.#resumeClient()
  }

  onClientDrain(): void {
    const conn = this.conn
    if (conn === null) return
    if (this.#waitingOnClient) {
      this.#waitingOnClient = false
      this.#moving()
    }
    conn.socket.resume()
  }

  onUpstreamData(conn: UpstreamConnection, chunk: Buffer): void {
    if (this.#open) {
      if (!this.client.write(chunk)) conn.socket.pause()
      return
    }
    if (this.#declined !== null) {
      this.#relayDeclined(chunk)
      return
    }
    let buf = this.#rbuf === null ? chunk : Buffer.concat([this.#rbuf, chunk])
    this.#rbuf = null
    for (;;) {
      const r = parseResponseHead(buf, MAX_RESPONSE_HEAD, this.head.method)
      if (r.kind === 'partial') {
        this.#rbuf = buf
        return
      }
      if (r.kind === 'refused') {
        this.#fail('protocol', null, `response head to an upgrade refused: ${r.reason}`)
        return
      }
      const res = r.head
      if (res.status === 101) {
        const wrong = this.#wrongSwitch(res)
        if (wrong !== null) {
          // never relayed: the client would take the node's bytes as a protocol it did not ask for
          this.#fail('protocol', null, wrong)
          return
        }
        // the switch: the 101 without its hop-by-hop fields, then everything after it as the node wrote it
        this.#answered(res)
        this.#open = true
        this.client.fw.longLived.add(this)
        const after = buf.subarray(r.length)
        let ok = this.client.write(switchHead(res))
        if (after.length > 0) ok = this.client.write(after)
        if (!ok) conn.socket.pause()
        // what the client sent after its request, held until now
        let full = false
        for (const b of this.#held) full = !conn.socket.write(b) || full
        this.#held = []
        this.#heldBytes = 0
        if (full) this.client.pause()
        return
      }
      const rest = buf.subarray(r.length)
      if (res.status >= 200) {
        this.#decline(res, rest)
        return
      }
      // an interim answer (100, 103) goes on as an ordinary request's, without its
      // hop-by-hop fields; a second 100 does not. The final one follows
      if (!(res.status === 100 && this.#sentContinue)) {
        this.client.write(interimHead(res))
        if (res.status === 100) this.#sentContinue = true
      }
      if (rest.length === 0) return
      buf = rest
    }
  }

  /**
   * Why a 101 may not be relayed, or null: it must name in Upgrade the protocols it switches
   * to, each one the client asked for (RFC 9110 7.8). The client would otherwise read what
   * follows as its protocol, or hand it on as such.
   */
  #wrongSwitch(res: ResponseHead): string | null {
    const protocols = upgradeProtocols(res.headers)
    if (protocols.length === 0) return 'answered 101 Switching Protocols naming no protocol in Upgrade'
    const wrong = notOffered(protocols, upgradeProtocols(this.head.headers))
    return wrong === undefined ? null : `answered 101 Switching Protocols to ${JSON.stringify(wrong.slice(0, 64))}, which the client did not ask for`
  }

  /** The upgrade's outcome (the 101, the answer declining it, or cutover's own): counted, and logged as any request is when the access log is on. */
  #finished(pool: PoolName, status: number, ms: number): void {
    const fw = this.client.fw
    fw.sink.finished(pool, status, ms)
    recordRequest(fw.accessLog, this.head, this.client.remoteAddress, pool, this.#lastNode?.name ?? null, status, ms, this.attempts)
  }

  /** The node's answer came: the attempt is over, its figures recorded. */
  #answered(res: ResponseHead): void {
    const fw = this.client.fw
    const node = this.node!
    this.deadline = 0
    const ms = fw.clock.monotonic() - this.start
    fw.sink.answered(node, res.status, ms)
    this.#finished(node.pool, res.status, ms)
    this.#over = true
    this.client.resume()
  }

  /** A final answer other than 101: relayed as an answer (its framing kept, hop-by-hop fields dropped, `Connection: close`). */
  #decline(res: ResponseHead, rest: Buffer): void {
    this.#answered(res)
    const framing = res.framing
    const chunked = framing.kind === 'chunked'
    const untilClose = framing.kind === 'close'
    this.#declined = { left: framing.kind === 'length' ? framing.length : 0, decoder: chunked ? new ChunkedDecoder() : null, untilClose }
    this.client.write(clientResponseHead(res, chunked || untilClose ? ClientFraming.Chunked : ClientFraming.AsIs, true, false))
    // its body must keep moving, as any answer's (#endDeclined clears it)
    this.#moving()
    if (framing.kind === 'none') this.#endDeclined()
    else if (rest.length > 0) this.#relayDeclined(rest)
  }

  /** Body bytes of a declined upgrade's answer, up to its end. */
  #relayDeclined(chunk: Buffer): void {
    const d = this.#declined!
    this.#moving()
    let piece = chunk
    let done = false
    if (d.decoder !== null) {
      const r = d.decoder.push(chunk)
      if (r.error !== null) {
        // a broken answer must look broken
        this.#breakDeclined()
        return
      }
      piece = r.consumed === chunk.length ? chunk : chunk.subarray(0, r.consumed)
      done = r.done
    } else if (!d.untilClose) {
      const take = Math.min(d.left, chunk.length)
      piece = take === chunk.length ? chunk : chunk.subarray(0, take)
      d.left -= take
      done = d.left === 0
    }
    // never an empty chunk: that is the last one
    if (piece.length > 0 && !(d.untilClose ? this.client.writeChunk(piece) : this.client.write(piece))) {
      this.#waitingOnClient = true
      this.#clientBacklog = this.client.unsent()
      this.conn?.socket.pause()
    }
    if (done) this.#endDeclined()
  }

  /** The declined answer's body moved, either way: idle_timeout counts from now. */
  #moving(): void {
    const fw = this.client.fw
    this.deadline = fw.clock.monotonic() + fw.proxy.idle_timeout
  }

  /** The declined upgrade's answer is whole: the node's connection and then the client's close. */
  #endDeclined(): void {
    this.#dropConn()
    this.client.answerAndClose(this.#declined?.untilClose === true ? LAST_CHUNK : NOTHING)
  }

  /**
   * The declined upgrade's answer broke (its node cut or stalled it, or sent a bad chunk):
   * the client must see it broken, never short and whole. What was written goes out first,
   * then the connection ends, where the framing (a length, or chunks) shows the cut.
   */
  #breakDeclined(): void {
    this.#dropConn()
    this.client.endBroken()
  }

  onUpstreamEnd(): void {
    // the node is done sending: so is the client's side
    if (this.#open && !this.client.socket.destroyed) this.client.socket.end()
    else if (this.#declined?.untilClose === true) this.#endDeclined()
  }

  onUpstreamClose(conn: UpstreamConnection, err: Error | null): void {
    if (this.conn !== conn) return
    // a declined upgrade's answer read until the node closed is whole
    if (this.#declined?.untilClose === true && err === null) {
      this.#endDeclined()
      return
    }
    this.conn = null
    if (this.#open && err === null) {
      // the node closed cleanly: its last bytes and the end of the client's side
      // (onUpstreamEnd) may still wait for a slow reader; the client connection closes
      // after them, while they keep moving
      this.#endAttempt()
      this.client.answerAndClose(NOTHING)
      return
    }
    if (this.#declined !== null) {
      // the declined answer was cut short: the client sees it broken
      this.#breakDeclined()
      return
    }
    if (this.#open) {
      // the tunnel is over
      this.#endAttempt()
      this.client.destroy()
      return
    }
    if (conn.connected) this.#fail('reset', err, 'connection closed before answering the upgrade')
    else this.#fail('connect', err, 'connection closed while connecting')
  }

  clientEnded(): void {
    // a declined upgrade's answer is still on its way; the connection closes after it
    if (this.#declined !== null) return
    const conn = this.conn
    if (conn !== null && this.#open) {
      conn.socket.end()
      return
    }
    // before the upgrade is answered, a client that ends its side has gone away, as one
    // whose request is in flight: the node's work is cancelled and the connection closes
    this.clientClosed()
    this.client.destroy()
  }

  clientClosed(): void {
    this.#dropConn()
    if (!this.#over) {
      this.#over = true
      const fw = this.client.fw
      this.#finished(this.pool, 499, fw.clock.monotonic() - this.start)
    }
  }

  /** The connect or the answer took too long, or a declined answer's body stood still. */
  expire(): void {
    this.deadline = 0
    if (this.conn === null) return
    if (this.#declined !== null) {
      // a slow reader of the answer is not a stalled one: it goes on while the backlog shrinks
      const left = this.client.unsent()
      if (this.#waitingOnClient && left < this.#clientBacklog) {
        this.#clientBacklog = left
        this.#moving()
      } else {
        this.#declinedStalled()
      }
      return
    }
    if (this.#open) return
    if (this.conn.connected) this.#fail('timeout', null, 'no answer to the upgrade within request_timeout')
    else this.#fail('connect', null, 'no connection within connect_timeout')
  }

  #fail(kind: FailureKind, err: Error | null, why: string): void {
    const fw = this.client.fw
    const node = this.node!
    fw.sink.attemptFailed(node, kind)
    this.#dropConn()
    why = errorWhy(err, why)
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
        fw.failures.note(node, kind, why, { retried: next }, 'http1')
        this.#attempt(next)
        return
      }
    }
    const status = failureAnswer(kind).status
    fw.failures.note(node, kind, why, this.client.closed ? 'client gone' : { answered: status }, 'http1')
    this.#over = true
    this.#finished(node.pool, status, fw.clock.monotonic() - this.start)
    this.client.answerAndClose(forMethod(failureBytes(kind, true), this.head.method))
  }

  /**
   * The declined answer's body stood still for idle_timeout: both connections are cut, the
   * client sees it broken. The node is blamed unless its client stopped taking the answer.
   */
  #declinedStalled(): void {
    const fw = this.client.fw
    const node = this.node!
    if (this.#waitingOnClient) {
      if (fw.logger.isLevelEnabled('debug')) fw.logger.debug({ node: node.name }, "client took nothing of the declined upgrade's answer for idle_timeout: cut")
      this.cut()
      return
    }
    fw.sink.attemptFailed(node, 'timeout')
    fw.failures.note(node, 'timeout', 'the body of the answer to the upgrade stood still for idle_timeout', 'cut', 'http1')
    this.#breakDeclined()
  }

  /** The node's pool lost its share: end both sides now (the client reconnects through the split). */
  cut(): void {
    this.#dropConn()
    this.client.destroy()
  }

  /** Close the node's connection now (its close reaches nobody) and end the attempt. */
  #dropConn(): void {
    const conn = this.conn
    this.conn = null
    if (conn !== null) conn.destroy()
    this.#endAttempt()
  }

  #endAttempt(): void {
    const node = this.node
    if (node === null) return
    this.client.fw.longLived.delete(this)
    this.node = null
    this.deadline = 0
    // a partial head of this node's must never be read as the start of the next node's answer
    this.#rbuf = null
    node.inflight--
    this.client.fw.sink.attemptEnded(node)
  }
}
