/**
 * The proxy listener: a fastify app whose every request, whatever its method or path,
 * is hijacked in the first hook and handed raw to the Forwarder. Fastify never reads the
 * body, parses the query or answers 404/400 for odd paths.
 */

import { readFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import type { Forwarder } from './forwarder.js'

export interface ProxyServerOptions {
  proxy: Config['proxy']
  forwarder: Forwarder
  logger: Logger
}

const NO_QUERY = Object.freeze({})

/** Build the proxy listener (not yet listening); call listen({ host, port }) on it. */
export function createProxyServer(options: ProxyServerOptions): FastifyInstance {
  const { proxy, forwarder } = options
  const serverOptions: http.ServerOptions = {
    // a client must send its head within header_timeout; the body may take as long as it needs
    headersTimeout: proxy.header_timeout,
    requestTimeout: 0,
    keepAliveTimeout: proxy.keepalive_timeout,
    maxHeaderSize: proxy.max_header_size,
    noDelay: true,
  }
  const tls = proxy.tls
  const forward = (req: IncomingMessage, res: ServerResponse): void => forwarder.handle(req, res)

  const app = fastify({
    logger: false,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    routerOptions: {
      maxParamLength: 1 << 20,
      // the query goes upstream as sent; never parse it
      querystringParser: () => NO_QUERY,
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
        ? https.createServer({ ...serverOptions, cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
        : http.createServer(serverOptions, handler)
      server.keepAliveTimeout = proxy.keepalive_timeout
      if (proxy.max_connections > 0) server.maxConnections = proxy.max_connections
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => forwarder.handleUpgrade(req, socket, head))
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
