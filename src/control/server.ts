/**
 * The control listener (SPEC section 3): the /v1 API behind a bearer token, plus /metrics,
 * /healthz and /readyz. A thin shell: bodies are checked by ./bodies.ts before anything
 * is called, so a rejected request never changes state; changes go through the
 * StateController (disk first) or the rollout runner.
 */

import type { ErrorObject } from 'ajv'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { sendApiError, sendCutoverError } from '../answers.js'
import { CutoverError, isCutoverError, type ErrorCode } from '../errors.js'
import { registerConsole } from '../console/console-routes.js'
import { eventSentence } from '../notify/event-text.js'
import { withActor, type Actor, type Role } from '../state/actor.js'
import { RoleAuth, type AuthVerdict } from './auth.js'
import { parseEmptyBody, parseEventsQuery, parseNodeBody, parseReasonBody, parseRolloutBody, parseRolloutForce, parseSplitBody } from './bodies.js'
import type { ControlDeps, RolloutControl } from './deps.js'
import { buildOpenApi, type DocumentedRoute } from './openapi.js'
import { answers, bodies, params, queries } from './schemas.js'
import { readTls } from '../tls-files.js'
import { lazyCompilers, schemaMessage } from './validation.js'

const { readFileSync } = process.getBuiltinModule('node:fs')

export const CONTROL_BODY_LIMIT = 64 * 1024
export const DEFAULT_ROLLBACK_REASON = 'rollback via API'

/** Auth-failure log lines allowed per window; the rest are counted, so a flood cannot fill the disk. */
const AUTH_LOG_BURST = 10
const AUTH_LOG_WINDOW_MS = 10_000

const JSON_TYPE = 'application/json; charset=utf-8'

type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/** A route as registered and as documented in /v1/openapi.json: one table for both. */
interface RouteDef extends DocumentedRoute {
  handler: RouteHandler
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

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

/** ms a TLS client of the control listener has to finish its handshake (requests get 15 s) */
export const CONTROL_HANDSHAKE_MS = 10_000

/** Build the control app (not listening yet; the caller calls listen). */
export function buildControlServer(deps: ControlDeps): FastifyInstance {
  const { state, events, logger } = deps
  const clock = deps.clock
  const auth = new RoleAuth(deps.token, deps.viewerToken ?? (() => undefined))
  const tls = deps.tls?.()

  const app = Fastify({
    // a client silent after connecting must not hold a socket for Node's default 120 s
    ...(tls ? { https: { ...readTls(tls, 'control.tls'), handshakeTimeout: deps.handshakeTimeoutMs ?? CONTROL_HANDSHAKE_MS } } : {}),
    logger: false,
    bodyLimit: CONTROL_BODY_LIMIT,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // a slow or idle client must not hold the listener
    requestTimeout: 15_000,
    keepAliveTimeout: 5_000,
    // route checks compiled on first use, fastify's serializer compiler never loaded unless needed (issue 10)
    schemaController: { compilersFactory: lazyCompilers() },
  })

  // JSON only: everything else is 415. An empty JSON body means "no body" (curl -X POST).
  app.removeAllContentTypeParsers()
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).length === 0) done(null, undefined)
    // fastify's default JSON parser answers through done; typed as maybe returning a promise
    else void parseJson(req, body as string, done)
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

  app.setSchemaErrorFormatter((errors, where) => new CutoverError('CUTOVER_ERR_BAD_REQUEST', schemaMessage(errors as ErrorObject[], where)))

  const roles = new WeakMap<FastifyRequest, Role>()
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config as { auth?: boolean; mutates?: boolean } | undefined
    // unknown paths under /v1 also ask for the token first, so the route set is not probed freely
    const needsAuth = config?.auth === true || (config?.auth === undefined && pathOf(req.url).startsWith('/v1'))
    if (!needsAuth) return
    const { verdict, role } = auth.check(req.headers.authorization)
    if (verdict !== 'ok') {
      authFailed(req, verdict)
      reply.header('www-authenticate', 'Bearer')
      return sendApiError(reply, 'CUTOVER_ERR_UNAUTHORIZED', verdict === 'missing' ? 'authorization required: Bearer token' : 'invalid bearer token')
    }
    roles.set(req, role)
    if (config?.mutates === true && role !== 'operator') {
      logger.warn({ method: req.method, path: pathOf(req.url), remote: req.ip, role }, 'control: change refused to the viewer token')
      return sendApiError(reply, 'CUTOVER_ERR_FORBIDDEN', `the viewer token may read, not change: ${req.method} ${pathOf(req.url)} needs the operator token (control.token)`)
    }
  })

  function rollout(): RolloutControl {
    if (!deps.rollout) throw new CutoverError('CUTOVER_ERR_ROLLOUT_UNAVAILABLE', 'rollouts not available')
    return deps.rollout
  }

  function audit(req: FastifyRequest, actor: Actor, what: string): void {
    // events record what changed and who; this line records the request
    logger.info({ method: req.method, path: pathOf(req.url), remote: actor.remote, role: actor.role }, `control: ${what}`)
  }

  const describe = async (_req: FastifyRequest, reply: FastifyReply) => sendJson(reply, 200, deps.describe())
  /** A change: the events it raises say which role asked and from where (../state/actor.ts). */
  const mutation =
    (what: string, act: (req: FastifyRequest) => Promise<unknown>): RouteHandler =>
    async (req, reply) => {
      const actor: Actor = { role: roles.get(req) ?? 'operator', remote: req.ip }
      await withActor(actor, () => act(req))
      audit(req, actor, what)
      return sendJson(reply, 200, deps.describe())
    }
  const changed = { status: 200, schema: answers.state }
  const readRoute = { auth: true, mutates: false }
  const writeRoute = { auth: true, mutates: true }

  const routes: RouteDef[] = [
    { method: 'GET', url: '/v1/state', ...readRoute, summary: 'the live state', ok: { status: 200, schema: answers.state }, handler: describe },
    {
      method: 'PUT',
      url: '/v1/split',
      ...writeRoute,
      summary: 'set the share of y',
      schema: { body: bodies.split },
      ok: changed,
      errors: [409],
      handler: mutation('split set', (req) => state.setSplit(parseSplitBody(req.body), 'api')),
    },
    {
      method: 'POST',
      url: '/v1/rollback',
      ...writeRoute,
      summary: 'y to 0 now, lock the split, stop any rollout',
      schema: { body: bodies.reason },
      ok: changed,
      handler: mutation('rollback', (req) => state.rollback(parseReasonBody(req.body, DEFAULT_ROLLBACK_REASON), 'api')),
    },
    {
      method: 'POST',
      url: '/v1/unlock',
      ...writeRoute,
      summary: 'clear the lock left by a rollback',
      schema: { body: bodies.empty },
      ok: changed,
      handler: mutation('unlock', (req) => {
        parseEmptyBody(req.body)
        return state.unlock('api')
      }),
    },
    {
      method: 'POST',
      url: '/v1/rollout',
      ...writeRoute,
      summary: "start a rollout: the body's steps or the config's plan",
      schema: { body: bodies.rollout },
      ok: changed,
      errors: [409, 503],
      handler: mutation('rollout start', (req) => rollout().start(parseRolloutBody(req.body), { force: parseRolloutForce(req.body) })),
    },
    ...(['pause', 'resume', 'promote'] as const).map(
      (verb): RouteDef => ({
        method: 'POST',
        url: `/v1/rollout/${verb}`,
        ...writeRoute,
        summary: { pause: 'hold the current step', resume: 'go on with the rollout', promote: 'jump to y 100 and finish' }[verb],
        schema: { body: bodies.empty },
        ok: changed,
        errors: [409, 503],
        handler: mutation(`rollout ${verb}`, (req) => {
          parseEmptyBody(req.body)
          return rollout()[verb]()
        }),
      }),
    ),
    {
      method: 'POST',
      url: '/v1/rollout/abort',
      ...writeRoute,
      summary: 'stop the rollout and roll back',
      schema: { body: bodies.reason },
      ok: changed,
      errors: [409, 503],
      handler: mutation('rollout abort', (req) => rollout().abort(parseReasonBody(req.body, undefined))),
    },
    {
      method: 'PUT',
      url: '/v1/nodes/:pool/:node',
      ...writeRoute,
      summary: "one node: drain (no new requests, probes go on), maint (no traffic, no probes), ready, and a runtime weight (null: the config's)",
      schema: { params: params.node, body: bodies.node },
      ok: changed,
      errors: [404, 409],
      handler: mutation('node changed', (req) => {
        const { pool, node } = req.params as { pool: 'x' | 'y'; node: string }
        if (!deps.nodes) throw new CutoverError('CUTOVER_ERR_NOT_FOUND', 'node changes are not available')
        return deps.nodes.change(pool, node, parseNodeBody(req.body))
      }),
    },
    {
      method: 'GET',
      url: '/v1/events',
      ...readRoute,
      summary: 'the audit log since an event id, oldest first (kept across restarts)',
      schema: { querystring: queries.events },
      ok: { status: 200, schema: answers.events },
      handler: async (req, reply) => {
        const { since, limit } = parseEventsQuery(req.query)
        // each event with its sentence, so the console says what ctl and the webhook say
        return sendJson(
          reply,
          200,
          events.since(since, limit).map((e) => ({ ...e, text: eventSentence(e) })),
        )
      },
    },
    {
      method: 'GET',
      url: '/v1/shadow',
      ...readRoute,
      summary: "issue 13: y's answers to copies of x's requests compared with x's (totals, top mismatch classes, redacted samples)",
      ok: { status: 200, schema: answers.shadow },
      handler: async (_req, reply) =>
        sendJson(reply, 200, deps.shadow?.() ?? { enabled: false, share: 0, totals: { match: 0, mismatch: 0, error: 0, dropped: 0 }, mismatch_rate: null, classes: [], other_mismatches: 0 }),
    },
    {
      method: 'GET',
      url: '/v1/openapi.json',
      ...readRoute,
      summary: 'this document: OpenAPI 3.1',
      ok: { status: 200, schema: answers.openapi },
      handler: async (_req, reply) => sendJson(reply, 200, openapi),
    },
    {
      method: 'GET',
      url: '/metrics',
      auth: false,
      mutates: false,
      summary: 'Prometheus metrics, no token',
      ok: { status: 200, schema: answers.metrics, type: 'text/plain' },
      handler: async (_req, reply) => {
        const m = await deps.metrics()
        return reply.code(200).type(m.contentType).send(m.body)
      },
    },
    {
      method: 'GET',
      url: '/healthz',
      auth: false,
      mutates: false,
      summary: 'the process serves, no token',
      ok: { status: 200, schema: answers.health },
      handler: async (_req, reply) => sendJson(reply, 200, { status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      auth: false,
      mutates: false,
      summary: 'some node of a pool with a share above 0 is usable, no token',
      ok: { status: 200, schema: answers.ready },
      errors: [503],
      handler: async (_req, reply) => {
        const r = deps.readiness()
        return r.ready ? sendJson(reply, 200, { ready: true }) : sendJson(reply, 503, { ready: false, reason: r.reason ?? 'not ready' })
      },
    },
  ]

  // the console's history is served by ../console, documented here with the rest
  const documented: DocumentedRoute[] = [
    ...routes,
    { method: 'GET', url: '/v1/history', ...readRoute, summary: "the console's 15 minutes of per-pool figures", ok: { status: 200, schema: answers.history } },
  ]
  const openapi = buildOpenApi(documented, VERSION)

  const allowed = new Map<string, string>()
  for (const r of routes) {
    app.route({ method: r.method, url: r.url, config: { auth: r.auth, mutates: r.mutates }, schema: r.schema, handler: r.handler })
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
