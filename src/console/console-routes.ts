/**
 * The operator console on the control listener: the page at `/`, its script and style
 * under `/console/`, and `GET /v1/history` for its charts. The page itself needs no token
 * (it holds no data); everything it shows or does goes through the /v1 API with one.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PAGE_CSS } from './page-css.js'
import { PAGE_HTML } from './page-html.js'
import { PAGE_JS } from './page-js.js'

export interface ConsoleOptions {
  /** the body of GET /v1/history (TrafficHistory.snapshot) */
  history: () => unknown
  /** true when the request carries the control token */
  authorize: (req: FastifyRequest) => boolean
}

/** Scripts and styles only from this origin's own routes: nothing inline, nothing from elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const JSON_TYPE = 'application/json; charset=utf-8'

interface Asset {
  url: string
  type: string
  body: Buffer
}

const ASSETS: Asset[] = [
  { url: '/', type: 'text/html; charset=utf-8', body: Buffer.from(PAGE_HTML, 'utf8') },
  { url: '/console/app.js', type: 'text/javascript; charset=utf-8', body: Buffer.from(PAGE_JS, 'utf8') },
  { url: '/console/app.css', type: 'text/css; charset=utf-8', body: Buffer.from(PAGE_CSS, 'utf8') },
]

function sendAsset(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply
    .code(200)
    .header('content-type', asset.type)
    .header('cache-control', 'no-store')
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .send(asset.body)
}

/** Add the console's routes to the control app; call before it listens. */
export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  for (const asset of ASSETS) {
    // config.auth false: the control listener's token hook lets the page load without one
    app.route({ method: 'GET', url: asset.url, config: { auth: false }, handler: async (_req, reply) => sendAsset(reply, asset) })
  }
  app.route({
    method: 'GET',
    url: '/v1/history',
    config: { auth: true },
    handler: async (req, reply) => {
      reply.header('cache-control', 'no-store')
      if (!options.authorize(req)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .type(JSON_TYPE)
          .send(JSON.stringify({ error: 'authorization required: Bearer token', code: 'CUTOVER_ERR_UNAUTHORIZED' }))
      }
      return reply.code(200).type(JSON_TYPE).send(JSON.stringify(options.history()))
    },
  })
}
