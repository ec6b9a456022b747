/**
 * The proxy listener: a fastify app whose every request, whatever its method or path,
 * is hijacked in the first hook and handed raw to the Forwarder. Fastify never reads the
 * body, parses the query or answers 404/400 for odd paths.
 */

import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import type { RefusalReason } from '../outcome/outcome-sink.js'
import type { Forwarder } from './forwarder.js'

export interface ProxyServerOptions {
  proxy: Config['proxy']
  forwarder: Forwarder
  logger: Logger
}

const NO_QUERY = Object.freeze({})

/** What a client gets for a head Node's parser refused (JSON like cutover's other errors). */
function clientErrorAnswer(code: string | undefined): { status: number; text: string; reason: RefusalReason } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, text: 'Request Header Fields Too Large', reason: 'head_too_large' }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, text: 'Request Timeout', reason: 'header_timeout' }
  return { status: 400, text: 'Bad Request', reason: 'framing' }
}

const CLIENT_ERROR_MESSAGES: Record<number, string> = {
  400: JSON.stringify({ message: 'bad request: malformed HTTP' }),
  408: JSON.stringify({ message: 'request head not received in time' }),
  431: JSON.stringify({ message: 'request head too large' }),
}

/** on a client socket: no request has arrived on it yet */
const kAwaitingFirst = Symbol('cutover.awaitingFirstRequest')

/**
 * Node's header timeout starts at a request's first byte: a client that connects and sends
 * nothing would hold its socket for ever. Give it header_timeout to start, as nginx does.
 */
function armFirstRequestTimer(this: { headerTimeout: number }, socket: Socket): void {
  ;(socket as unknown as Record<symbol, boolean>)[kAwaitingFirst] = true
  socket.setTimeout(this.headerTimeout)
}

/** The first request arrived: Node's own timers (header, keep-alive) take over. */
function disarmFirstRequestTimer(socket: Duplex): void {
  const slot = socket as unknown as Record<symbol, boolean | undefined>
  if (slot[kAwaitingFirst] === true) {
    slot[kAwaitingFirst] = false
    ;(socket as Socket).setTimeout(0)
  }
}

/**
 * How often Node looks for connections past header_timeout. Its default (30 s) would let a
 * slowloris client hold a socket for header_timeout + 30 s; the check is one pass over the
 * open connections, cheap at a second.
 */
export function connectionsCheckingInterval(headerTimeout: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headerTimeout / 4)))
}

/** Build the proxy listener (not yet listening); call listen({ host, port }) on it. */
export function createProxyServer(options: ProxyServerOptions): FastifyInstance {
  const { proxy, forwarder } = options
  const serverOptions: http.ServerOptions = {
    // a client must send its head within header_timeout; the body may take as long as it needs
    headersTimeout: proxy.header_timeout,
    requestTimeout: 0,
    keepAliveTimeout: proxy.keepalive_timeout,
    maxHeaderSize: proxy.max_header_size,
    connectionsCheckingInterval: connectionsCheckingInterval(proxy.header_timeout),
    // the forwarder checks Host itself, so a request pipelined behind a refused one is dropped too
    requireHostHeader: false,
    noDelay: true,
  }
  const tls = proxy.tls
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    disarmFirstRequestTimer(req.socket)
    forwarder.handle(req, res)
  }

  const app = fastify({
    logger: false,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    routerOptions: {
      maxParamLength: 1 << 20,
      // the query goes upstream as sent; never parse it
      querystringParser: () => NO_QUERY,
    },
    // the parser refused the head (llhttp: bad framing, too large, too slow): JSON and close
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      // A connection that never sent a byte is closed without an answer, as nginx does. Node
      // checks its connections on an interval that races our own first-request timer; both
      // must end a silent connection the same way.
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0) {
        forwarder.onRefused?.('header_timeout')
        socket.destroy()
        return
      }
      const answer = clientErrorAnswer(err.code)
      forwarder.onRefused?.(answer.reason)
      const current = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage
      // never inside a response already on its way: the client would read garbage
      if (socket.writable && (current == null || !current.headersSent)) {
        const body = CLIENT_ERROR_MESSAGES[answer.status]
        socket.end(`HTTP/1.1 ${answer.status} ${answer.text}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`)
      }
      socket.destroySoon()
    },
    // paths the router cannot decode (/%zz) or that exceed maxParamLength: forward them too
    frameworkErrors(err, request: FastifyRequest, reply: FastifyReply) {
      if (reply.sent || reply.raw.headersSent) return
      void err
      reply.hijack()
      forward(request.raw, reply.raw)
    },
    serverFactory(handler) {
      const server = tls
        ? https.createServer({ ...serverOptions, handshakeTimeout: proxy.header_timeout, cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
        : http.createServer(serverOptions, handler)
      // with TLS, req.socket is the TLS socket: arm the timer on that one
      server.on(tls ? 'secureConnection' : 'connection', armFirstRequestTimer.bind({ headerTimeout: proxy.header_timeout }))
      server.keepAliveTimeout = proxy.keepalive_timeout
      if (proxy.max_connections > 0) server.maxConnections = proxy.max_connections
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        disarmFirstRequestTimer(socket)
        forwarder.handleUpgrade(req, socket, head)
      })
      return server
    },
  })

  // the body is the Forwarder's to stream: no parser may read it
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

  // the first hook, for matched routes and the 404 route alike: nothing else runs
  app.addHook('onRequest', (request, reply, _done) => {
    reply.hijack()
    forward(request.raw, reply.raw)
  })
  app.route({ method: app.supportedMethods, url: '*', handler: noop })
  app.route({ method: app.supportedMethods, url: '/', handler: noop })
  return app
}

async function noop(): Promise<void> {}
