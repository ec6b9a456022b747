/**
 * The control listener (SPEC section 3): the /v1 API behind a bearer token, plus /metrics,
 * /healthz and /readyz. A thin shell: bodies are checked by ./bodies.ts before anything
 * is called, so a rejected request never changes state; changes go through the
 * StateController (disk first) or the rollout runner.
 */

import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { sendApiError, sendCutoverError } from '../answers.js'
import { CutoverError, isCutoverError, type ErrorCode } from '../errors.js'
import { registerConsole } from '../console/console-routes.js'
import { eventSentence } from '../notify/event-text.js'
import { BearerAuth, type AuthVerdict } from './auth.js'
import { parseEmptyBody, parseEventsQuery, parseReasonBody, parseRolloutBody, parseSplitBody } from './bodies.js'
import type { ControlDeps, RolloutControl } from './deps.js'

export const CONTROL_BODY_LIMIT = 64 * 1024
export const DEFAULT_ROLLBACK_REASON = 'rollback via API'

/** Auth-failure log lines allowed per window; the rest are counted, so a flood cannot fill the disk. */
const AUTH_LOG_BURST = 10
const AUTH_LOG_WINDOW_MS = 10_000

const JSON_TYPE = 'application/json; charset=utf-8'

type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>

interface RouteDef {
  method: 'GET' | 'PUT' | 'POST'
  url: string
  auth: boolean
  handler: RouteHandler
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(JSON_TYPE).send(JSON.stringify(body))
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

/** fastify's own 4xx errors mapped onto cutover codes. */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 404:
      return 'CUTOVER_ERR_NOT_FOUND'
    case 405:
      return 'CUTOVER_ERR_METHOD_NOT_ALLOWED'
    case 413:
      return 'CUTOVER_ERR_BODY_TOO_LARGE'
    case 415:
      return 'CUTOVER_ERR_UNSUPPORTED_MEDIA_TYPE'
    default:
      return 'CUTOVER_ERR_BAD_REQUEST'
  }
}

/** Build the control app (not listening yet; the caller calls listen). */
export function buildControlServer(deps: ControlDeps): FastifyInstance {
  const { state, events, logger } = deps
  const clock = deps.clock
  const auth = new BearerAuth(deps.token)

  const app = Fastify({
    logger: false,
    bodyLimit: CONTROL_BODY_LIMIT,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // a slow or idle client must not hold the listener
    requestTimeout: 15_000,
    keepAliveTimeout: 5_000,
  })

  // JSON only: everything else is 415. An empty JSON body means "no body" (curl -X POST).
  app.removeAllContentTypeParsers()
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).length === 0) done(null, undefined)
    else parseJson(req, body as string, done)
  })

  let authLogged = 0
  let authSuppressed = 0
  let authWindowStart = 0
  function authFailed(req: FastifyRequest, why: Exclude<AuthVerdict, 'ok'>): void {
    deps.onAuthFailure?.()
    const now = clock.now()
    if (now - authWindowStart >= AUTH_LOG_WINDOW_MS) {
      authWindowStart = now
      authLogged = 0
    }
    if (authLogged >= AUTH_LOG_BURST) {
      authSuppressed++
      return
    }
    authLogged++
    const suppressed = authSuppressed
    authSuppressed = 0
    logger.warn({ method: req.method, path: pathOf(req.url), remote: req.ip, why, ...(suppressed ? { suppressed } : {}) }, 'control: authentication failed')
  }

  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config as { auth?: boolean } | undefined
    // unknown paths under /v1 also ask for the token first, so the route set is not probed freely
    const needsAuth = config?.auth === true || (config?.auth === undefined && pathOf(req.url).startsWith('/v1'))
    if (!needsAuth) return
    const verdict = auth.check(req.headers.authorization)
    if (verdict === 'ok') return
    authFailed(req, verdict)
    reply.header('www-authenticate', 'Bearer')
    return sendApiError(reply, 'CUTOVER_ERR_UNAUTHORIZED', verdict === 'missing' ? 'authorization required: Bearer token' : 'invalid bearer token')
  })

  function rollout(): RolloutControl {
    if (!deps.rollout) throw new CutoverError('CUTOVER_ERR_ROLLOUT_UNAVAILABLE', 'rollouts not available')
    return deps.rollout
  }

  function audit(req: FastifyRequest, what: string): void {
    // events record what changed; this line records who asked
    logger.info({ method: req.method, path: pathOf(req.url), remote: req.ip }, `control: ${what}`)
  }

  const describe = async (_req: FastifyRequest, reply: FastifyReply) => sendJson(reply, 200, deps.describe())
  const mutation = (what: string, act: (req: FastifyRequest) => Promise<unknown>): RouteHandler => async (req, reply) => {
    await act(req)
    audit(req, what)
    return sendJson(reply, 200, deps.describe())
  }

  const routes: RouteDef[] = [
    { method: 'GET', url: '/v1/state', auth: true, handler: describe },
    { method: 'PUT', url: '/v1/split', auth: true, handler: mutation('split set', (req) => state.setSplit(parseSplitBody(req.body), 'api')) },
    { method: 'POST', url: '/v1/rollback', auth: true, handler: mutation('rollback', (req) => state.rollback(parseReasonBody(req.body, DEFAULT_ROLLBACK_REASON), 'api')) },
    {
      method: 'POST',
      url: '/v1/unlock',
      auth: true,
      handler: mutation('unlock', (req) => {
        parseEmptyBody(req.body)
        return state.unlock('api')
      }),
    },
    { method: 'POST', url: '/v1/rollout', auth: true, handler: mutation('rollout start', (req) => rollout().start(parseRolloutBody(req.body))) },
    ...(['pause', 'resume', 'promote'] as const).map(
      (verb): RouteDef => ({
        method: 'POST',
        url: `/v1/rollout/${verb}`,
        auth: true,
        handler: mutation(`rollout ${verb}`, (req) => {
          parseEmptyBody(req.body)
          return rollout()[verb]()
        }),
      }),
    ),
    { method: 'POST', url: '/v1/rollout/abort', auth: true, handler: mutation('rollout abort', (req) => rollout().abort(parseReasonBody(req.body, undefined))) },
    {
      method: 'GET',
      url: '/v1/events',
      auth: true,
      handler: async (req, reply) => {
        const { since, limit } = parseEventsQuery(req.query)
        // each event with its sentence, so the console says what ctl and the webhook say
        return sendJson(reply, 200, events.since(since, limit).map((e) => ({ ...e, text: eventSentence(e) })))
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      auth: false,
      handler: async (_req, reply) => {
        const m = await deps.metrics()
        return reply.code(200).type(m.contentType).send(m.body)
      },
    },
    { method: 'GET', url: '/healthz', auth: false, handler: async (_req, reply) => sendJson(reply, 200, { status: 'ok' }) },
    {
      method: 'GET',
      url: '/readyz',
      auth: false,
      handler: async (_req, reply) => {
        const r = deps.readiness()
        return r.ready ? sendJson(reply, 200, { ready: true }) : sendJson(reply, 503, { ready: false, reason: r.reason ?? 'not ready' })
      },
    },
  ]

  const allowed = new Map<string, string>()
  for (const r of routes) {
    app.route({ method: r.method, url: r.url, config: { auth: r.auth }, handler: r.handler })
    allowed.set(r.url, r.method === 'GET' ? 'GET, HEAD' : r.method)
  }

  registerConsole(app, { history: deps.history ?? (() => null) })

  app.setNotFoundHandler((req, reply) => {
    const allow = allowed.get(pathOf(req.url))
    if (allow) {
      reply.header('allow', allow)
      return sendApiError(reply, 'CUTOVER_ERR_METHOD_NOT_ALLOWED', `${req.method} not allowed; use ${allow}`)
    }
    return sendApiError(reply, 'CUTOVER_ERR_NOT_FOUND', `no such endpoint: ${req.method} ${pathOf(req.url)}`)
  })

  app.setErrorHandler((err: FastifyError | CutoverError, req, reply) => {
    if (isCutoverError(err)) {
      if (err.code === 'CUTOVER_ERR_STATE_WRITE') logger.error({ err, method: req.method, path: pathOf(req.url) }, 'control: state not saved, nothing changed')
      return sendCutoverError(reply, err)
    }
    const status = (err as FastifyError).statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) return sendApiError(reply, codeForStatus(status), err.message, status)
    logger.error({ err, method: req.method, path: pathOf(req.url) }, 'control: unexpected error')
    return sendApiError(reply, 'CUTOVER_ERR_INTERNAL', 'internal error')
  })

  return app
}
