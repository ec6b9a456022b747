/**
 * The proxy listener: raw TCP (or TLS, with proxy.tls) sockets, each handed to a
 * ClientConnection that speaks HTTP/1.1 with cutover's own codec. No node:http, no
 * framework: one data plane.
 */

import type { Server, Socket, SocketConstructorOpts } from 'node:net'
import type { TLSSocket, Server as TlsServer } from 'node:tls'
import type { Logger } from 'pino'
import type { Config, HostPort } from '../config/types.js'
import { CLIENT_ONREAD, ClientConnection } from './client-connection.js'
import type { Forwarder } from './forwarder.js'
import { ProxyHeaderReader } from './proxied.js'
import { reloadTls, readTls, type TlsFiles } from '../tls-files.js'

const net = process.getBuiltinModule('node:net')
const tls = process.getBuiltinModule('node:tls')

export interface ProxyServerOptions {
  proxy: Config['proxy']
  forwarder: Forwarder
  logger: Logger
  /** takes the TLS sockets whose client chose h2 by ALPN (src/h2/listener.ts); absent: http/1.1 only */
  h2?: (socket: TLSSocket) => void
}

export class ProxyServer {
  readonly server: Server
  readonly forwarder: Forwarder
  /** every open client connection */
  readonly connections = new Set<ClientConnection>()
  #closed: Promise<void> | null = null
  readonly #h2: ((socket: TLSSocket) => void) | undefined
  /** the TLS side (proxy.tls); the listener itself when no PROXY header comes first */
  readonly #tls: TlsServer | undefined
  /** proxy.proxy_protocol: reads each connection's PROXY header before anything else */
  readonly #proxyHeaders: ProxyHeaderReader | null
  /** TLS connections whose handshake is not over: nothing was asked on them yet */
  readonly #handshaking = new Set<Socket>()

  constructor(options: ProxyServerOptions) {
    const { proxy, forwarder } = options
    this.forwarder = forwarder
    this.#h2 = options.h2
    const logger = options.logger
    // behind a TCP balancer (proxy.proxy_protocol): each connection's PROXY header is read
    // on the raw socket first, then the socket goes where it would have gone
    this.#proxyHeaders = proxy.proxy_protocol ? new ProxyHeaderReader(forwarder) : null
    const tlsConfig = proxy.tls
    if (tlsConfig) {
      const server = tls.createServer({
        ...readTls(tlsConfig, 'proxy.tls'),
        handshakeTimeout: proxy.header_timeout,
        allowHalfOpen: true,
        // h2 first: a client that speaks both gets HTTP/2
        ALPNProtocols: options.h2 === undefined ? ['http/1.1'] : ['h2', 'http/1.1'],
      })
      // a connection is in #handshaking until its handshake is over (or it is gone): the
      // drain timeout cuts those too, which would otherwise hold the exit for header_timeout
      server.on('connection', (socket: Socket) => {
        this.#handshaking.add(socket)
        socket.once('close', () => this.#handshaking.delete(socket))
      })
      server.on('secureConnection', (socket: TLSSocket) => {
        this.#handshaking.delete((socket as TLSSocket & { _parent?: Socket })._parent ?? socket)
        this.#onConnection(socket)
      })
      // a failed handshake, or none within header_timeout (handshakeTimeout): nothing to answer.
      // Node leaves the socket open once this event has a listener, so close it here
      server.on('tlsClientError', closeSocket)
      this.#tls = server
    }
    const headers = this.#proxyHeaders
    if (headers === null) this.server = this.#tls ?? net.createServer({ allowHalfOpen: true, noDelay: true }, this.#onConnection)
    else {
      const tlsServer = this.#tls
      const next = tlsServer === undefined ? this.#onHeaderRead : (socket: Socket) => tlsServer.emit('connection', socket)
      this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => headers.read(socket, next))
    }
    if (proxy.max_connections > 0) this.server.maxConnections = proxy.max_connections
    // an accept that fails (out of file descriptors) is reported here; the listener goes on
    this.server.on('error', (err: NodeJS.ErrnoException) => {
      if (this.server.listening) logger.warn({ err: err.message, code: err.code }, 'proxy listener: accept failed')
    })
  }

  /** a plain socket whose PROXY header was read: paused, with what followed the header unshifted */
  #onHeaderRead = (socket: Socket): void => {
    this.#onConnection(socket)
    socket.resume()
  }

  #onConnection = (socket: Socket): void => {
    socket.setNoDelay(true)
    if (this.#h2 !== undefined && (socket as TLSSocket).alpnProtocol === 'h2') {
      this.#h2(socket as TLSSocket)
      return
    }
    new ClientConnection(this.forwarder, socket, this.connections, this.#reusedReads)
  }

  /**
   * New connections get the certificate and key in files from now on (SIGHUP); those open
   * keep theirs. Throws, naming the file or the mismatch, and the running pair stays.
   */
  reloadTls(files: TlsFiles): void {
    if (this.#tls !== undefined) reloadTls(this.#tls, files, 'proxy.tls')
  }

  /** plain-TCP client sockets are made with CLIENT_ONREAD (see acceptWithReusedReads) */
  #reusedReads = false

  listen(address: HostPort): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      this.server.once('error', onError)
      this.server.listen(address.port, address.host, () => {
        this.server.off('error', onError)
        // not behind a PROXY header: the header is read from `data` events, which such sockets do not have
        if (this.#tls === undefined && this.#proxyHeaders === null) this.#reusedReads = acceptWithReusedReads(this.server)
        resolve(this.address())
      })
    })
  }

  address(): HostPort {
    const a = this.server.address()
    if (a !== null && typeof a === 'object') return { host: a.address, port: a.port }
    throw new Error('proxy listener has no address')
  }

  /**
   * Stop accepting; idle keep-alive connections close at once, a request in flight gets
   * its answer with `connection: close`. Resolves when the last connection is gone.
   */
  close(): Promise<void> {
    if (this.#closed === null) {
      const stopped = new Promise<void>((resolve) => {
        if (!this.server.listening) resolve()
        else this.server.close(() => resolve())
      })
      for (const conn of [...this.connections]) conn.drain()
      // nothing was asked on these yet
      this.#proxyHeaders?.closeAll()
      this.#closed = stopped.then(() => undefined)
    }
    return this.#closed
  }

  /** Cut every connection now (drain_timeout passed). */
  closeAllConnections(): void {
    this.#proxyHeaders?.closeAll()
    for (const socket of [...this.#handshaking]) socket.destroy()
    for (const conn of [...this.connections]) conn.cut()
  }
}

/** Build the proxy listener (not yet listening). */
export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  return new ProxyServer(options)
}

/** tlsClientError's listener */
function closeSocket(_err: Error, socket: Socket): void {
  socket.destroy()
}

/** what acceptWithReusedReads uses of a listening net.Server: Node's own fields, stable since Node 0.x */
interface ServerInternals {
  _handle: { onconnection?: (this: unknown, err: number, clientHandle: unknown) => void } | null
  _connections: number
  maxConnections: number | null | undefined
}

/**
 * Accepted sockets cannot be given `onread` (net.Server makes them itself), so this takes
 * over the listening handle's accept callback and makes each client socket as Node's
 * does (same options, same connection count and `connection` event, so close() and
 * maxConnections work as before), plus CLIENT_ONREAD: its reads go into one shared buffer, with no Buffer, push
 * or `data` event per read (issue 10). Errors and connections past maxConnections go to
 * Node's own callback. A cluster worker's handle (round-robin) is patched the same way.
 * Returns false, changing nothing, where the handle is not what this expects.
 */
export function acceptWithReusedReads(server: Server): boolean {
  const internals = server as unknown as ServerInternals
  const handle = internals._handle
  const original = handle?.onconnection
  if (handle === null || typeof original !== 'function' || typeof internals._connections !== 'number') return false
  handle.onconnection = function onconnection(this: unknown, err: number, clientHandle: unknown): void {
    const max = internals.maxConnections
    if (err !== 0 || clientHandle == null || (max != null && max > 0 && internals._connections >= max)) {
      original.call(this, err, clientHandle)
      return
    }
    const socket = new net.Socket({
      handle: clientHandle,
      allowHalfOpen: true, // as the proxy listener is made
      readable: true,
      writable: true,
      onread: CLIENT_ONREAD,
    } as SocketConstructorOpts)
    internals._connections++
    const owned = socket as unknown as { server: Server; _server: Server }
    owned.server = server
    owned._server = server
    server.emit('connection', socket)
  }
  return true
}
