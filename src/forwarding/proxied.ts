/**
 * `proxy.proxy_protocol`: cutover behind a TCP load balancer that sends the PROXY protocol
 * header (http1/proxy-protocol.ts) before each connection's first byte. The header is read
 * here, on the raw socket, before anything else sees the connection (TLS, HTTP/1.1, h2c);
 * the client address it names replaces the socket's peer for everything that reads one
 * (X-Forwarded-For, the `ip` sticky key, the access log, shadow copies). A connection that
 * does not begin with a valid header, or sends none within header_timeout, is closed
 * without an answer, as nginx's `listen ... proxy_protocol` does: what follows cannot be
 * told from an attacker's bytes.
 */

import type { Socket } from 'node:net'
import { parseProxyHeader } from '../http1/proxy-protocol.js'
import type { Forwarder } from './forwarder.js'
import { ThrottledWarning } from './throttled-warning.js'

/**
 * the client address a PROXY header named, on the socket it came on: a property, not a
 * WeakMap entry, so that it reads through the proxy object node:http2 gives as a
 * session's socket
 */
const SOURCE = Symbol('cutover.proxiedSource')

interface Proxied {
  [SOURCE]?: string
  /** a TLS socket made over a raw one (tls.Server's connection handling) keeps the raw one here */
  _parent?: Proxied
}

/** The client's address: the one its PROXY header named, else the socket's peer. */
export function peerAddress(socket: Socket): string | undefined {
  const s = socket as Socket & Proxied
  return s[SOURCE] ?? s._parent?.[SOURCE] ?? socket.remoteAddress
}

/** Reads the PROXY header of each connection it is given, then hands the socket on. */
export class ProxyHeaderReader {
  readonly #fw: Forwarder
  /** sockets whose header is still being read (closed by closeAll) */
  readonly pending = new Set<Socket>()
  /** a balancer that sends no header would write one line per connection */
  readonly #warning: ThrottledWarning

  constructor(fw: Forwarder) {
    this.#fw = fw
    this.#warning = new ThrottledWarning(
      fw.logger,
      fw.clock,
      'connection closed: proxy.proxy_protocol is on and it sent no valid PROXY protocol header (is the load balancer in front set to send one?)',
    )
  }

  /**
   * Read socket's header; then call next with the socket paused and the bytes after the
   * header unshifted into it. A bad or late header closes the socket instead.
   */
  read(socket: Socket, next: (socket: Socket) => void): void {
    this.pending.add(socket)
    let buf: Buffer | null = null
    const clock = this.#fw.clock
    // the whole header within header_timeout from the connection's start
    const timeoutMs = this.#fw.proxy.header_timeout
    const done = (): void => {
      clock.clearTimeout(timer)
      this.pending.delete(socket)
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onClose)
    }
    const refuse = (why: string): void => {
      done()
      this.#refused(socket, why)
    }
    const onData = (chunk: Buffer): void => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk])
      const header = parseProxyHeader(buf)
      if (header.kind === 'more') return
      if (header.kind === 'refused') {
        refuse(header.why)
        return
      }
      done()
      socket.pause()
      if (header.source !== undefined) (socket as Socket & Proxied)[SOURCE] = header.source
      if (buf.length > header.length) socket.unshift(buf.subarray(header.length))
      next(socket)
    }
    const onEnd = (): void => refuse('the connection ended before its PROXY protocol header did')
    const onClose = (): void => {
      clock.clearTimeout(timer)
      this.pending.delete(socket)
    }
    const timer = clock.setTimeout(() => refuse(`no whole PROXY protocol header within header_timeout (${timeoutMs} ms)`), timeoutMs)
    socket.on('error', ignore)
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onClose)
  }

  /** Close every connection whose header has not come (shutting down). */
  closeAll(): void {
    for (const socket of this.pending) socket.destroy()
    this.pending.clear()
  }

  #refused(socket: Socket, why: string): void {
    socket.destroy()
    this.#fw.refused('proxy_protocol')
    this.#warning.warn({ client: socket.remoteAddress, why })
  }
}

function ignore(): void {}
