/**
 * GET /v1/openapi.json (issue 14): a valid OpenAPI 3.1 document (checked by
 * @seriousme/openapi-schema-validator, which validates against the OpenAPI Initiative's
 * published 3.1 schema), and every route it documents is called on a real cutover, its
 * answer held to the documented status and schema.
 */

import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import t from 'tap'
import { startUpstream } from '../helpers/upstream.js'
import { OPERATOR, startOperatorCutover } from './operator-harness.js'

// biome-ignore lint/suspicious/noExplicitAny: the document is walked as data
type Doc = any

/** One valid call per documented operation, in an order where each succeeds. */
const CALLS: Array<{ op: string; path: string; body?: unknown }> = [
  { op: 'GET /v1/state', path: '/v1/state' },
  { op: 'GET /v1/events', path: '/v1/events?since=0&limit=5' },
  { op: 'GET /v1/history', path: '/v1/history' },
  { op: 'GET /v1/shadow', path: '/v1/shadow' },
  { op: 'GET /v1/openapi.json', path: '/v1/openapi.json' },
  { op: 'GET /metrics', path: '/metrics' },
  { op: 'GET /healthz', path: '/healthz' },
  { op: 'GET /readyz', path: '/readyz' },
  { op: 'PUT /v1/split', path: '/v1/split', body: { y: 10 } },
  { op: 'PUT /v1/nodes/{pool}/{node}', path: '/v1/nodes/x/a', body: { weight: 2 } },
  { op: 'POST /v1/rollout', path: '/v1/rollout' },
  { op: 'POST /v1/rollout/pause', path: '/v1/rollout/pause' },
  { op: 'POST /v1/rollout/resume', path: '/v1/rollout/resume', body: {} },
  { op: 'POST /v1/rollout/promote', path: '/v1/rollout/promote' },
  { op: 'POST /v1/rollback', path: '/v1/rollback', body: { reason: 'openapi test' } },
  { op: 'POST /v1/unlock', path: '/v1/unlock' },
  { op: 'POST /v1/rollout/abort', path: '/v1/rollout/abort', body: { reason: 'done' } },
]

t.test('the document is valid OpenAPI 3.1 and every route it names answers as it says', async (t) => {
  const a = await startUpstream('a')
  const y1 = await startUpstream('y1')
  t.teardown(() => Promise.all([a.close(), y1.close()]).then(() => undefined))
  const c = await startOperatorCutover({
    x: [`{ url: ${a.url}, name: a }`],
    y: [`{ url: ${y1.url}, name: y1 }`],
    extra: 'rollout: { steps: [{ y: 10, hold: 1h }, { y: 50, hold: 1h }, { y: 100 }] }',
  })
  t.teardown(() => c.cutover.close())

  const got = await c.call(OPERATOR, 'GET', '/v1/openapi.json')
  t.equal(got.status, 200)
  const doc: Doc = got.body
  const validator = new Validator()
  const verdict = await validator.validate(doc)
  t.ok(verdict.valid, `valid: ${JSON.stringify(verdict.errors)}`)
  t.equal(validator.version, '3.1')

  const documented: string[] = []
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const method of Object.keys(ops)) documented.push(`${method.toUpperCase()} ${path}`)
  t.same([...documented].sort(), CALLS.map((call) => call.op).sort(), 'every documented route has a call below, and no call is undocumented')

  const ajv = new Ajv2020({ strict: false })
  // POST /v1/rollout/abort needs a running rollout: start one again before it
  const calls = [...CALLS.slice(0, -1), { op: 'POST /v1/rollout', path: '/v1/rollout' }, CALLS.at(-1)!]
  for (const call of calls) {
    const [method, path] = call.op.split(' ')
    const op = doc.paths[path][method.toLowerCase()]
    const res = await c.call(OPERATOR, method, call.path, call.body)
    const [status, answer] = Object.entries(op.responses as Record<string, { content: Record<string, { schema: object }> }>).find(([s]) => s.startsWith('2'))!
    t.equal(String(res.status), status, `${call.op} answers ${status}: ${JSON.stringify(res.body).slice(0, 200)}`)
    const [type, { schema }] = Object.entries(answer.content)[0]
    if (type === 'application/json') {
      const validate = ajv.compile(schema)
      t.ok(validate(res.body), `${call.op}: the answer matches its schema ${JSON.stringify(validate.errors)}`)
    } else t.type(res.body, 'string', `${call.op}: ${type}`)
    // the documented body schema accepts the body that was just accepted
    if (op.requestBody) t.ok(ajv.validate(op.requestBody.content['application/json'].schema, call.body ?? null), `${call.op}: the sent body fits the documented schema`)
  }

  // refusals are the documented error shape, and each mutating route says it is the operator's
  const bad = await c.call(OPERATOR, 'PUT', '/v1/split', { y: 'ten' })
  t.equal(bad.status, 400)
  t.ok(ajv.validate(doc.paths['/v1/split'].put.responses['400'].content['application/json'].schema, bad.body), 'a 400 has the documented error shape')
  t.equal(bad.body.error, 'y: expected a number from 0 to 100 with at most two decimals')
  for (const call of CALLS) {
    const [method, path] = call.op.split(' ')
    const op = doc.paths[path][method.toLowerCase()]
    if (!path.startsWith('/v1')) t.same(op.security, [], `${call.op} needs no token`)
    else t.equal(op['x-cutover-role'], method === 'GET' ? 'viewer' : 'operator', `${call.op} role`)
  }
})
