/**
 * One client connection on the proxy port: reads request heads with the codec, one request
 * at a time (pipelined ones wait in the buffer and are answered in order, as nginx does),
 * streams the body to the exchange with backpressure, keeps the connection alive between
 * requests, and enforces header_timeout (from the moment it opens), keepalive_timeout,
 * the body and in-flight limits. Cutover's own answers are written here.
 */

import type net from 'node:net'
import { ChunkedDecoder, parseRequestHead, type RequestHead } from '../http1/index.js'
import { beginsWithProxyHeader } from '../http1/proxy-protocol.js'
import { badRequestBytes, forMethod, kept, RAW, UNEXPECTED_PROXY_HEADER } from './answers.js'
import type { ClientSide } from './client-side.js'
import { Exchange } from './exchange.js'
import { Phase } from './phase.js'
import { peerAddress } from './proxied.js'
import type { Forwarder, H2Preface } from './forwarder.js'
import { clientAddress } from './headers.js'
import type { Timed } from './sweeper.js'
import { Tunnel } from './tunnel.js'
import { ReadSlot, unsentBytes } from '../upstream/read-buffers.js'

/** bytes of a body (or of pipelined requests) held while the node cannot take them yet */
const HOLD_LIMIT = 64 * 1024
/** how long a connection cutover ended may linger half-open before it is cut */
const LINGER_MS = 2000

/** the connection on a client socket: every socket shares one set of listeners, no closures per connection */
const CONN = Symbol('cutover.clientConnection')
type OwnedSocket = net.Socket & { [CONN]: ClientConnection }

/**
 * The one buffer every plain-TCP client socket reads a request head into (proxy-server.ts
 * makes them with `onread`): no Buffer, no stream push and no `data` event per read. Reads
 * run one at a time, so one buffer serves every socket, as long as nothing it holds
 * outlives the read: whatever a read leaves behind (a partial head, the start of a body,
 * pipelined requests, an upgrade's first bytes) is copied out before anything can keep
 * it, and a socket whose next bytes are a body or a tunnel's reads into a buffer of its
 * own (BODY_FIRST_READ). Every socket's handle keeps pointing at this buffer, so it is
 * never replaced.
 */
const SHARED_READ = Buffer.allocUnsafeSlow(64 * 1024)
/**
 * a body's or a tunnel's reads go into a ReadSlot of the connection's own, starting at this
 * size (then the shared set's READ_SIZE once a read fills it); a fresh Buffer per read
 * made V8 run a full GC every ~64 MiB uploaded (bench/README.md, "Uploads: the slow mode")
 */
const BODY_FIRST_READ = 16 * 1024

/** HTTP/2's connection preface begins so (RFC 9113 3.4): a client with prior knowledge of h2c */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n', 'latin1')

/** `onread` for client sockets (net.Socket option): see SHARED_READ */
export const CLIENT_ONREAD = { buffer: nextClientBuffer, callback: onClientRead }

export class ClientConnection implements Timed, ClientSide {
  readonly fw: Forwarder
  readonly socket: net.Socket
  readonly remoteAddress: string | undefined
  /** the address as X-Forwarded-For shows it */
  readonly address: string
  readonly #all: Set<ClientConnection>
  phase = Phase.Head
  /** bytes read and not yet handled */
  buf: Buffer | null = null
  /** monotonic ms: header, keep-alive or linger deadline; 0 = none */
  deadline: number
  /** the deadline is the keep-alive one: no byte of a next request yet */
  idle = false
  /** a byte arrived since the connection opened (a silent client is closed without an answer) */
  sawBytes = false
  head: RequestHead | null = null
  /** the request's keep-alive wish */
  keepAlive = true
  exchange: Exchange | null = null
  tunnel: Tunnel | null = null
  /** body bytes still due (Content-Length framing) */
  bodyLeft = 0
  decoder: ChunkedDecoder | null = null
  /** the client ended its side (FIN) */
  ended = false
  /** shutting down: close once the request in flight is answered */
  draining = false
  closed = false
  #paused = false
  /** the bytes being handled are SHARED_READ's: copy what must outlive the read */
  #shared = false
  /** the buffer a body's (or a tunnel's) bytes are read into, while there is one */
  #slot: ReadSlot | null = null
  /** closing: bytes still queued for the client at the last look (they must keep moving) */
  #unsent = 0
  /** the answer being sent before the close ends with it (closeEndsAnswer) */
  #closeEnds = false
  /** a request head was read on this connection (an h2 preface after one is refused) */
  #served = false

  /** reusedReads: the socket was made with CLIENT_ONREAD (its bytes come through onClientRead, not `data`) */
  constructor(fw: Forwarder, socket: net.Socket, all: Set<ClientConnection>, reusedReads = false) {
    this.fw = fw
    this.socket = socket
    this.remoteAddress = peerAddress(socket)
    this.address = clientAddress(this.remoteAddress)
    this.#all = all
    this.deadline = fw.clock.monotonic() + fw.proxy.header_timeout
    all.add(this)
    fw.sweeper.add(this)
    ;(socket as OwnedSocket)[CONN] = this
    if (!reusedReads) socket.on('data', onSocketData)
    socket.on('end', onSocketEnd)
    socket.on('drain', onSocketDrain)
    socket.on('error', ignore)
    socket.on('close', onSocketClose)
  }

  // ---- socket events (through the shared listeners at the end of this file) ----

  /** chunk is a view of SHARED_READ, valid during this call only */
  sharedData(chunk: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.#shared = this.buf === null
        this.socketData(chunk)
        this.#shared = false
        break
      case Phase.Closing:
        break
      default:
        // the phase changed after this socket's buffer was chosen (a pipelined request
        // with a body started from the held bytes): rare, so copied whole
        this.socketData(Buffer.from(chunk))
        break
    }
  }

  /** chunk is a view of this connection's ReadSlot buffer (a body's or a tunnel's bytes) */
  slotData(chunk: Buffer): void {
    const slot = this.#slot!
    this.socketData(chunk)
    slot.read(chunk.length)
    // what outlives the read: bytes held for later, a tunnel's (written or held), bytes the node socket queued
    if ((this.buf !== null && this.buf.buffer === chunk.buffer) || this.phase === Phase.Tunnel) slot.retain()
    const holder = this.exchange?.bodyHolder()
    if (holder != null) slot.lend(holder)
  }

  /** The buffer this socket's next read goes into: the shared one, unless a body's or a tunnel's bytes come next. */
  nextBuffer(): Buffer {
    if (this.phase === Phase.Body || this.phase === Phase.Tunnel) return (this.#slot ??= new ReadSlot(BODY_FIRST_READ)).next()
    if (this.#slot !== null) {
      this.#slot.release()
      this.#slot = null
    }
    return SHARED_READ
  }

  /** Whatever this.buf holds of a shared read, copied: nothing may keep SHARED_READ past the read. */
  #own(): void {
    if (this.#shared) {
      this.#shared = false
      if (this.buf !== null) this.buf = Buffer.from(this.buf)
    }
  }

  socketData(chunk: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
        if (this.idle) {
          this.idle = false
          this.deadline = this.fw.clock.monotonic() + this.fw.proxy.header_timeout
        }
        this.sawBytes = true
        this.#parse()
        break
      case Phase.Body:
        this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
        this.pumpBody()
        break
      case Phase.Wait:
        // pipelined: held until the answer in flight is written
        this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
        if (this.buf.length > HOLD_LIMIT) this.pause()
        break
      case Phase.Tunnel:
        this.tunnel!.fromClient(chunk)
        break
      default:
        break
    }
  }

  socketEnd(): void {
    this.ended = true
    switch (this.phase) {
      case Phase.Head:
        if (this.exchange === null) this.#finishClosing()
        break
      case Phase.Tunnel:
        this.tunnel!.clientEnded()
        break
      case Phase.Closing:
        // the FIN we waited for; what we wrote is sent first (a client that ended its side
        // early still reads the answer), then the socket closes
        if (unsentBytes(this.socket) > 0) this.socket.destroySoon()
        else this.destroy()
        break
      default:
        // Body, Wait: a client that ends its side while its request is in flight has gone
        // away (as nginx and Node's server take it): the node's work is cancelled
        this.exchange?.clientClosed()
        this.destroy()
        break
    }
  }

  socketDrain(): void {
    if (this.exchange !== null) this.exchange.onClientDrain()
    else if (this.tunnel !== null) this.tunnel.onClientDrain()
  }

  socketClose(): void {
    this.closed = true
    this.phase = Phase.Closing
    this.buf = null
    this.#all.delete(this)
    this.fw.sweeper.delete(this)
    if (this.exchange !== null) this.exchange.clientClosed()
    if (this.tunnel !== null) this.tunnel.clientClosed()
  }

  // ---- deadlines ----

  sweep(now: number): void {
    const ex = this.exchange
    if (ex !== null && ex.deadline > 0 && ex.deadline <= now) ex.expire()
    const tunnel = this.tunnel
    if (tunnel !== null && tunnel.deadline > 0 && tunnel.deadline <= now) tunnel.expire()
    if (this.deadline > 0 && this.deadline <= now) this.#expire()
  }

  #expire(): void {
    this.deadline = 0
    if (this.phase === Phase.Head && this.exchange === null) {
      if (this.idle || !this.sawBytes) {
        // idle keep-alive or silent: closed without an answer, as nginx does
        this.destroy()
        return
      }
      this.fw.refused('header_timeout')
      this.answerAndClose(RAW.headTimeout)
      return
    }
    if (this.phase === Phase.Closing) {
      // the answer's last bytes may still be in the socket's queue (a slow reader): closing
      // now would lose them. It goes on while they move, and is cut when they stand still
      // for idle_timeout, as an answer in flight is
      const left = unsentBytes(this.socket)
      if (left > 0 && left < this.#unsent) {
        this.#unsent = left
        this.deadline = this.fw.clock.monotonic() + this.fw.proxy.idle_timeout
        return
      }
      this.#cutClosing()
    }
  }

  /**
   * Cut a closing connection now. Its answer's last bytes may still be queued: where the
   * close is that answer's end, the cut is a reset (a FIN would end it short, looking whole).
   */
  #cutClosing(): void {
    if (this.#closeEnds && unsentBytes(this.socket) > 0) this.reset()
    else this.destroy()
  }

  // ---- requests ----

  #parse(): void {
    while (this.phase === Phase.Head && this.buf !== null && this.exchange === null) {
      const buf = this.buf
      const r = parseRequestHead(buf, this.fw.proxy.max_header_size)
      if (r.kind === 'partial') {
        this.#own()
        return
      }
      if (r.kind === 'refused') {
        const h2 = this.fw.h2Preface
        if (h2 !== undefined && !this.#served && isH2Preface(buf)) {
          this.#toH2(h2)
          return
        }
        this.fw.refused(r.status === 431 ? 'head_too_large' : 'framing')
        if (!this.#served && beginsWithProxyHeader(buf)) {
          // the balancer in front sends PROXY headers and cutover is not set to read them:
          // say so, to the client and (at most every 10 s) in the log, not "unknown method"
          this.fw.proxyHeaderWhileOff.warn({ client: this.remoteAddress })
          this.answerAndClose(badRequestBytes(UNEXPECTED_PROXY_HEADER))
          return
        }
        // 501 and 505 too are answered 400, as Node's server did
        this.answerAndClose(r.status === 431 ? RAW.headTooLarge : badRequestBytes(r.reason))
        return
      }
      this.buf = r.length === buf.length ? null : buf.subarray(r.length)
      // a body's start, pipelined requests or a tunnel's first bytes outlive the read
      this.#own()
      this.deadline = 0
      this.#served = true
      this.#start(r.head)
    }
  }

  #start(head: RequestHead): void {
    const fw = this.fw
    // an h2c upgrade is declined by answering in HTTP/1.1 (RFC 9113 3.1): the request is
    // routed and relayed like any other, its Upgrade and HTTP2-Settings dropped; as a tunnel
    // it would pin the connection to one node, outside the split
    if (head.upgrade && head.h2cUpgrade !== true) {
      this.phase = Phase.Tunnel
      this.head = head
      const rest = this.buf
      this.buf = null
      this.tunnel = new Tunnel(this, head, rest)
      return
    }
    const proxy = fw.proxy
    const start = fw.clock.monotonic()
    this.head = head
    this.keepAlive = head.keepAlive
    const limit = proxy.max_inflight
    if (limit > 0 && fw.inflight >= limit) {
      // shed before any work: no node, no sink (overload is not the pools' fault)
      this.answerAndClose(forMethod(RAW.shed, head.method))
      if (fw.onShed !== undefined) fw.onShed()
      return
    }
    const pool = fw.pickPool(head, this.remoteAddress)
    const framing = head.framing
    const max = proxy.max_body_size
    if (max > 0 && framing.kind === 'length' && framing.length > max) {
      this.answerAndClose(forMethod(RAW.bodyTooLarge, head.method))
      fw.sink.finished(pool, 413, fw.clock.monotonic() - start)
      return
    }
    const node = fw.firstNode(pool)
    if (node === undefined) {
      const close = framing.kind !== 'none' || !head.keepAlive || this.draining || this.ended
      fw.sink.finished(pool, 503, fw.clock.monotonic() - start)
      if (close) this.answerAndClose(forMethod(RAW.noNode.close, head.method))
      else {
        this.write(forMethod(kept(RAW.noNode, head.versionMinor), head.method))
        this.#awaitNext()
      }
      return
    }
    if (framing.kind === 'none') {
      this.phase = Phase.Wait
    } else {
      this.phase = Phase.Body
      if (framing.kind === 'length') this.bodyLeft = framing.length
      else this.decoder = new ChunkedDecoder()
    }
    const ex = new Exchange(this, head, pool, start)
    this.exchange = ex
    ex.attempt(node, start)
  }

  /** Send what the buffer holds of the body to the exchange, as far as the node takes it. */
  pumpBody(): void {
    const ex = this.exchange
    if (ex === null) return
    if (!ex.canSend()) {
      if (this.buf !== null && this.buf.length > HOLD_LIMIT) this.pause()
      return
    }
    while (this.phase === Phase.Body && this.buf !== null) {
      const buf = this.buf
      let piece: Buffer
      let done: boolean
      const decoder = this.decoder
      if (decoder === null) {
        const take = Math.min(this.bodyLeft, buf.length)
        piece = take === buf.length ? buf : buf.subarray(0, take)
        this.buf = take === buf.length ? null : buf.subarray(take)
        this.bodyLeft -= take
        done = this.bodyLeft === 0
      } else {
        const r = decoder.push(buf)
        if (r.error !== null) {
          this.fw.refused('framing')
          ex.clientBodyError(r.error)
          return
        }
        piece = r.data.length === 1 ? r.data[0] : r.data.length === 0 ? EMPTY : Buffer.concat(r.data)
        this.buf = r.consumed === buf.length ? null : buf.subarray(r.consumed)
        done = r.done
        const max = this.fw.proxy.max_body_size
        if (max > 0 && decoder.payloadBytes > max) {
          ex.bodyTooLarge()
          return
        }
      }
      const ok = decoder === null ? piece.length === 0 || ex.sendBody(piece) : ex.sendChunks(decoder, piece, done)
      if (done) {
        this.phase = Phase.Wait
        this.decoder = null
        ex.requestSent()
      }
      // the node's socket is full: no more of the body until it drains. Once the body is
      // whole, reading goes on (pipelined bytes are held, up to HOLD_LIMIT): a paused
      // socket would never read the FIN of a client that leaves while it is answered
      if (!ok && !done) {
        this.pause()
        return
      }
    }
    this.resume()
  }

  /**
   * The exchange is over (answered, or failed with cutover's answer written). keepAlive:
   * the answer left the connection usable for the next request.
   */
  exchangeDone(keepAlive: boolean, now = this.fw.clock.monotonic()): void {
    this.exchange = null
    this.head = null
    if (this.closed) return
    if (!keepAlive || this.phase === Phase.Body || !this.keepAlive || this.draining || this.ended) {
      this.#finishClosing()
      return
    }
    this.#awaitNext(now)
    this.resume()
    if (this.buf !== null) this.#parse()
  }

  /** Ready for the next request: keep-alive deadline when nothing of it arrived yet, else the header one. */
  #awaitNext(now = this.fw.clock.monotonic()): void {
    this.phase = Phase.Head
    this.idle = this.buf === null
    this.deadline = now + (this.idle ? this.fw.proxy.keepalive_timeout : this.fw.proxy.header_timeout)
  }

  // ---- writing ----

  /** Write bytes to the client; false when its buffer is full (wait for onClientDrain). */
  write(bytes: Buffer | string): boolean {
    const socket = this.socket
    if (socket.destroyed || socket.writableEnded) return true
    return typeof bytes === 'string' ? socket.write(bytes, 'latin1') : socket.write(bytes)
  }

  writeChunk(bytes: Buffer): boolean {
    const socket = this.socket
    socket.cork()
    this.write(bytes.length.toString(16) + '\r\n')
    this.write(bytes)
    const ok = this.write('\r\n')
    socket.uncork()
    return ok
  }

  unsent(): number {
    return unsentBytes(this.socket)
  }

  /** Write cutover's own answer and close (the rest of what the client sends is dropped). */
  answerAndClose(bytes: Buffer): void {
    if (this.exchange !== null) this.exchange = null
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes)
    this.#finishClosing()
  }

  /** End our side; the client's FIN (or the linger deadline) finishes the close. */
  #finishClosing(): void {
    this.phase = Phase.Closing
    this.buf = null
    this.decoder = null
    const socket = this.socket
    if (socket.destroyed) return
    // keep reading, so unread bytes never turn our close into a reset that loses the answer
    this.resume()
    socket.end()
    // a client that ended its side has nothing more to say: the socket closes once the answer is sent
    if (this.ended) socket.destroySoon()
    // what the socket still holds of the answer must keep moving; once it is all sent, the
    // client has LINGER_MS to close its side
    this.#unsent = unsentBytes(socket)
    this.deadline = this.fw.clock.monotonic() + (this.#unsent > 0 ? this.fw.proxy.idle_timeout : LINGER_MS)
  }

  /**
   * The client opened with HTTP/2's preface (prior knowledge, as gRPC clients on plain TCP
   * do): the socket leaves this connection, reading stopped, and goes to the h2 listener
   * with the bytes read so far.
   */
  #toH2(h2: H2Preface): void {
    const socket = this.socket
    const bytes = Buffer.from(this.buf!)
    this.buf = null
    this.#shared = false
    this.phase = Phase.Closing
    socket.pause()
    this.#all.delete(this)
    this.fw.sweeper.delete(this)
    socket.off('data', onSocketData)
    socket.off('end', onSocketEnd)
    socket.off('drain', onSocketDrain)
    socket.off('close', onSocketClose)
    // the error listener stays: the h2 listener may still be loading (its first use), and a
    // client that resets meanwhile must not raise an unheard 'error'
    delete (socket as Partial<OwnedSocket>)[CONN]
    h2(socket, bytes)
  }

  endBroken(): void {
    this.exchangeDone(false)
  }

  /** Cut the connection now (a broken response must look broken). */
  destroy(): void {
    this.socket.destroy()
  }

  reset(): void {
    const socket = this.socket
    // resetAndDestroy needs the TCP handle itself, which a TLS socket wraps
    if (!socket.destroyed && (socket as { encrypted?: boolean }).encrypted !== true) socket.resetAndDestroy()
    else socket.destroy()
  }

  pause(): void {
    if (!this.#paused) {
      this.#paused = true
      this.socket.pause()
    }
  }

  resume(): void {
    if (this.#paused) {
      this.#paused = false
      this.socket.resume()
    }
  }

  /**
   * drain_timeout passed: cut now. An answer cut short must read as cut: one whose end is
   * the close (read until close, or de-chunked to HTTP/1.0) is cut with a reset, where a
   * FIN would end it looking whole (the exchange knows its framing); so is one already
   * whole at its node whose last bytes are still queued (#cutClosing).
   */
  cut(): void {
    const ex = this.exchange
    if (ex !== null && ex.status !== 0) ex.cut()
    if (this.phase === Phase.Closing) this.#cutClosing()
    else this.destroy()
  }

  closeEndsAnswer(): void {
    this.#closeEnds = true
  }

  /** Shutting down: close now when idle, else once the request in flight is answered. */
  drain(): void {
    this.draining = true
    if (this.phase === Phase.Head && this.exchange === null && this.buf === null) this.destroy()
  }
}

function ignore(): void {}

function isH2Preface(buf: Buffer): boolean {
  return buf.length >= H2_PREFACE.length && buf.compare(H2_PREFACE, 0, H2_PREFACE.length, 0, H2_PREFACE.length) === 0
}

// the listeners of every client socket; `this` is the socket
function onSocketData(this: net.Socket, chunk: Buffer): void {
  ;(this as OwnedSocket)[CONN].socketData(chunk)
}

function onSocketEnd(this: net.Socket): void {
  ;(this as OwnedSocket)[CONN].socketEnd()
}

function onSocketDrain(this: net.Socket): void {
  ;(this as OwnedSocket)[CONN].socketDrain()
}

function onSocketClose(this: net.Socket): void {
  ;(this as OwnedSocket)[CONN].socketClose()
}

/** the connection whose read just ended: Node asks for the next buffer right after the callback, with no `this` */
let lastReader: ClientConnection | null = null

/** onread's buffer for the next read (of lastReader's socket; none while Node builds a socket) */
function nextClientBuffer(): Buffer {
  const conn = lastReader
  lastReader = null
  return conn === null ? SHARED_READ : conn.nextBuffer()
}

/** onread's callback; `this` is the socket. true: go on reading (pause() still pauses). */
function onClientRead(this: net.Socket, nread: number, buf: Uint8Array): boolean {
  const conn = (this as Partial<OwnedSocket>)[CONN]
  // the socket went to the h2 listener (#toH2): its reads are HTTP/2's from now on
  if (conn === undefined) return false
  const chunk = (buf as Buffer).subarray(0, nread)
  if (buf === SHARED_READ) conn.sharedData(chunk)
  else conn.slotData(chunk)
  lastReader = conn
  return true
}

const EMPTY = Buffer.alloc(0)
