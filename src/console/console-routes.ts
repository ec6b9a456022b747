/**
 * The operator console on the control listener: the page at `/`, its modules and style
 * under `/console/` (the files of ./assets/, read once at start), and `GET /v1/history`
 * for its charts. The page needs no token (it holds no data); everything it shows or
 * does goes through the /v1 API, whose token the control listener's hook checks.
 *
 * Caching: every file carries an ETag (a hash of its bytes) and `Cache-Control:
 * no-cache`, so a browser revalidates on each load and gets 304 until cutover is
 * upgraded, and an upgrade's new console is never hidden behind a stale copy.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

const { createHash } = process.getBuiltinModule('node:crypto')
const { readdirSync, readFileSync } = process.getBuiltinModule('node:fs')

export interface ConsoleOptions {
  /** the body of GET /v1/history (TrafficHistory.snapshot) */
  history: () => unknown
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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

/** Next to this module: src/console/assets when run from source, dist/console/assets once built. */
export const ASSETS_DIR = new URL('./assets/', import.meta.url)

export interface Asset {
  url: string
  type: string
  body: Buffer
  etag: string
}

/** The console's files: index.html at `/`, the rest at `/console/<name>`. */
export function loadAssets(dir: URL = ASSETS_DIR): Asset[] {
  const assets: Asset[] = []
  for (const name of readdirSync(dir).sort()) {
    const ext = name.slice(name.lastIndexOf('.'))
    const type = TYPES[ext]
    if (type === undefined) continue // tsconfig.json and the like are for the build, not the browser
    const body = readFileSync(new URL(name, dir))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    assets.push({ url: name === 'index.html' ? '/' : `/console/${name}`, type, body, etag })
  }
  return assets
}

/** True when the request's If-None-Match names this ETag (or is `*`). */
function fresh(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match']
  if (typeof header !== 'string') return false
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*')
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header('etag', asset.etag)
    .header('cache-control', 'no-cache')
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
  if (fresh(req, asset.etag)) return reply.code(304).send()
  return reply.code(200).header('content-type', asset.type).send(asset.body)
}

/** Add the console's routes to the control app; call before it listens. */
export function registerConsole(app: FastifyInstance, options: ConsoleOptions, assets: Asset[] = loadAssets()): void {
  for (const asset of assets) {
    // config.auth false: the control listener's token hook lets the page load without one
    app.route({ method: 'GET', url: asset.url, config: { auth: false }, handler: async (req, reply) => sendAsset(req, reply, asset) })
  }
  // config.auth true: the control listener's hook answers 401 before this runs
  app.route({
    method: 'GET',
    url: '/v1/history',
    config: { auth: true },
    handler: async (_req, reply) => reply.code(200).header('cache-control', 'no-store').type(JSON_TYPE).send(JSON.stringify(options.history())),
  })
}
