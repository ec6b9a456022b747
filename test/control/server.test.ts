import t from 'tap'
import { request } from 'node:http'
import { request as httpsRequest } from 'node:https'
import net from 'node:net'
import { tlsFiles } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'
import { AUTH, harness, initialState, JSON_HEADERS, TOKEN } from './harness.js'

const V1_ROUTES: Array<[string, string]> = [
  ['GET', '/v1/state'],
  ['PUT', '/v1/split'],
  ['POST', '/v1/rollback'],
  ['POST', '/v1/unlock'],
  ['POST', '/v1/rollout'],
  ['POST', '/v1/rollout/pause'],
  ['POST', '/v1/rollout/resume'],
  ['POST', '/v1/rollout/promote'],
  ['POST', '/v1/rollout/abort'],
  ['GET', '/v1/events'],
]

t.test('every /v1 route needs the bearer token', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  const WRONG = 'wrong-token-guess'
  const bad: Array<[string, Record<string, string>]> = [
    ['missing', {}],
    ['wrong', { authorization: `Bearer ${WRONG}` }],
    ['malformed', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['malformed', { authorization: 'Bearer' }],
    ['malformed', { authorization: `Bearer ${TOKEN} extra` }],
    ['wrong', { authorization: `Bearer ${TOKEN}x` }],
    ['wrong', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ]
  let failures = 0
  for (const [method, url] of V1_ROUTES) {
    for (const [why, headers] of bad) {
      const before = h.state.current
      const res = await h.app.inject({ method: method as 'GET', url, headers: { ...headers, 'content-type': 'application/json' }, payload: method === 'GET' ? undefined : '{"y": 50}' })
      failures++
      t.equal(res.statusCode, 401, `${method} ${url} ${why}`)
      t.equal(res.headers['www-authenticate'], 'Bearer')
      t.equal(res.json().code, 'CUTOVER_ERR_UNAUTHORIZED')
      t.equal(h.state.current, before, 'state unchanged')
    }
    const ok = await h.app.inject({ method: method as 'GET', url, headers: AUTH })
    t.not(ok.statusCode, 401, `${method} ${url} with the token`)
  }
  t.equal(h.authFailures, failures, 'every failure reported')
  t.equal(h.rollout.calls.length, 5, 'only the authorised rollout calls went through')
  const text = JSON.stringify(h.logs)
  t.notOk(text.includes(TOKEN), 'the token is never logged')
  t.notOk(text.includes(WRONG), 'a presented token is never logged')
  const warn = h.logs.find((l) => l.level === 40)
  t.match(warn, { method: 'GET', path: '/v1/state', remote: '127.0.0.1', why: 'missing' })
  t.ok(h.logs.some((l) => l.why === 'wrong') && h.logs.some((l) => l.why === 'malformed'), 'why is logged')
})

t.test('a percent-encoded path cannot sidestep the token', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  for (const url of ['/%761/state', '/v1/%73tate', '/v1/state?x=1']) {
    const res = await h.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 401, url)
  }
  const res = await h.app.inject({ method: 'PUT', url: '/%76%31/split', headers: { 'content-type': 'application/json' }, payload: '{"y":90}' })
  t.equal(res.statusCode, 401)
  t.equal(h.state.current.y, 10)
})

t.test('a changed token (reload) applies to the next request', async (t) => {
  let token = 'first'
  const h = harness({ token: () => token })
  t.teardown(() => h.app.close())
  t.equal((await h.app.inject({ url: '/v1/state', headers: { authorization: 'Bearer first' } })).statusCode, 200)
  token = 'second'
  t.equal((await h.app.inject({ url: '/v1/state', headers: { authorization: 'Bearer first' } })).statusCode, 401)
  t.equal((await h.app.inject({ url: '/v1/state', headers: { authorization: 'bearer second' } })).statusCode, 200, 'scheme is case-insensitive')
  token = ''
  t.equal((await h.app.inject({ url: '/v1/state', headers: { authorization: 'Bearer ' } })).statusCode, 401, 'an empty token never matches')
})

t.test('auth failure log lines are throttled, the rest counted', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  for (let i = 0; i < 15; i++) await h.app.inject({ url: '/v1/state' })
  t.equal(h.authFailures, 15, 'every failure reported to the metric')
  t.equal(h.logs.filter((l) => l.level === 40).length, 10, 'ten lines per window')
  h.clock.advance(10_000)
  await h.app.inject({ url: '/v1/state' })
  const last = h.logs.filter((l) => l.level === 40).at(-1)
  t.equal(last?.suppressed, 5)
})

t.test('GET /v1/state, /healthz, /readyz, /metrics', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  const s = await h.app.inject({ url: '/v1/state', headers: AUTH })
  t.equal(s.statusCode, 200)
  t.match(s.headers['content-type'], /^application\/json/)
  t.same(s.json(), { split: { x: 90, y: 10 }, locked: false, lock_reason: null, rollout: null })

  const hz = await h.app.inject({ url: '/healthz' })
  t.equal(hz.statusCode, 200)
  t.same(hz.json(), { status: 'ok' })

  t.same((await h.app.inject({ url: '/readyz' })).json(), { ready: true })
  h.ready = { ready: false, reason: 'no healthy node in y' }
  const nr = await h.app.inject({ url: '/readyz' })
  t.equal(nr.statusCode, 503)
  t.same(nr.json(), { ready: false, reason: 'no healthy node in y' })

  const m = await h.app.inject({ url: '/metrics' })
  t.equal(m.statusCode, 200)
  t.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.match(m.body, /cutover_split_percent/)
  t.equal(h.authFailures, 0, 'no token needed there')
})

t.test('PUT /v1/split sets the split, writes it to disk and answers with the state', async (t) => {
  const h = harness({ dir: t.testdir({}) })
  t.teardown(() => h.app.close())
  const res = await h.app.inject({ method: 'PUT', url: '/v1/split', headers: JSON_HEADERS, payload: { y: 33.33 } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { split: { y: 33.33 } })
  t.equal(h.state.current.y, 33.33)
  t.match(JSON.parse(h.disk()), { version: 1, split: { y: 33.33 } })
  t.match(h.events.since(0), [{ type: 'split.changed', cause: 'api', from: 10, to: 33.33 }])
  t.ok(
    h.logs.some((l) => l.level === 30 && l.path === '/v1/split'),
    'who asked is logged',
  )
})

t.test('bad bodies give 400/413/415 naming the field, and change nothing in memory or on disk', async (t) => {
  const h = harness({ dir: t.testdir({}) })
  t.teardown(() => h.app.close())
  await h.state.setSplit(10, 'api') // puts a file on disk to compare against
  const disk = h.disk()
  const before = h.state.current
  const lastEvent = h.events.lastId
  const cases: Array<{ name: string; payload?: string; type?: string; status: number; code: string; field?: RegExp }> = [
    { name: 'no body', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /body/ },
    { name: 'empty object', payload: '{}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'y as string', payload: '{"y":"25"}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'y null', payload: '{"y":null}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'y above 100', payload: '{"y":100.01}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'y negative', payload: '{"y":-1}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'three decimals', payload: '{"y":12.345}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'huge exponent', payload: '{"y":1e400}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^y: / },
    { name: 'extra field', payload: '{"y":20,"force":true}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /^force: / },
    { name: 'array', payload: '[20]', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /body/ },
    { name: 'bare number', payload: '20', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /body/ },
    { name: 'bare string', payload: '"20"', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /body/ },
    { name: 'null', payload: 'null', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST', field: /body/ },
    { name: 'invalid JSON', payload: '{"y":', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST' },
    { name: 'NaN', payload: '{"y":NaN}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST' },
    { name: '__proto__', payload: '{"y":20,"__proto__":{"locked":false}}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST' },
    { name: 'constructor.prototype', payload: '{"y":20,"constructor":{"prototype":{"x":1}}}', status: 400, code: 'CUTOVER_ERR_BAD_REQUEST' },
    { name: 'above 64 KiB', payload: `{"y":20,"pad":"${'a'.repeat(65 * 1024)}"}`, status: 413, code: 'CUTOVER_ERR_BODY_TOO_LARGE' },
    { name: 'text/plain', payload: '{"y":20}', type: 'text/plain', status: 415, code: 'CUTOVER_ERR_UNSUPPORTED_MEDIA_TYPE' },
    { name: 'form', payload: 'y=20', type: 'application/x-www-form-urlencoded', status: 415, code: 'CUTOVER_ERR_UNSUPPORTED_MEDIA_TYPE' },
  ]
  for (const c of cases) {
    const headers: Record<string, string> = { ...AUTH }
    if (c.payload !== undefined) headers['content-type'] = c.type ?? 'application/json'
    const res = await h.app.inject({ method: 'PUT', url: '/v1/split', headers, payload: c.payload })
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    const body = res.json()
    t.equal(body.code, c.code, `${c.name}: code`)
    t.type(body.error, 'string')
    if (c.field) t.match(body.error, c.field, `${c.name}: names the field`)
    t.equal(h.state.current, before, `${c.name}: state unchanged`)
  }
  t.equal(h.disk(), disk, 'file on disk unchanged')
  t.equal(h.events.lastId, lastEvent, 'no event')
  t.notOk(Object.hasOwn({}, 'locked') || ({} as Record<string, unknown>).x !== undefined, 'no prototype pollution')
})

t.test('POST /v1/rollback: default and given reasons, bad reasons refused', async (t) => {
  const h = harness({ dir: t.testdir({}) })
  t.teardown(() => h.app.close())
  for (const payload of ['{"reason":""}', '{"reason":"   "}', `{"reason":"${'r'.repeat(501)}"}`, '{"reason":5}', '{"why":"x"}', '[]']) {
    const res = await h.app.inject({ method: 'POST', url: '/v1/rollback', headers: JSON_HEADERS, payload })
    t.equal(res.statusCode, 400, payload.slice(0, 30))
    t.equal(res.json().code, 'CUTOVER_ERR_BAD_REQUEST')
  }
  t.same(h.state.current, initialState, 'nothing rolled back')

  const res = await h.app.inject({ method: 'POST', url: '/v1/rollback', headers: AUTH })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { split: { x: 100, y: 0 }, locked: true, lock_reason: 'rollback via API' })
  t.match(JSON.parse(h.disk()), { split: { y: 0 }, locked: true })

  const r2 = await h.app.inject({ method: 'POST', url: '/v1/rollback', headers: JSON_HEADERS, payload: { reason: 'p99 too high in staging' } })
  t.equal(r2.statusCode, 200)
  t.equal(h.state.current.lock_reason, 'p99 too high in staging')
  t.match(h.events.since(0).at(-1), { type: 'rollback', cause: 'api', reason: 'p99 too high in staging' })
})

t.test('409 while locked, POST /v1/unlock clears it', async (t) => {
  const h = harness({ initial: { y: 0, locked: true, lock_reason: 'gate', rollout: null } })
  t.teardown(() => h.app.close())
  const res = await h.app.inject({ method: 'PUT', url: '/v1/split', headers: JSON_HEADERS, payload: { y: 5 } })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'CUTOVER_ERR_LOCKED')
  const rs = await h.app.inject({ method: 'POST', url: '/v1/rollout', headers: AUTH })
  t.equal(rs.statusCode, 409)
  t.equal(rs.json().code, 'CUTOVER_ERR_LOCKED')

  t.equal((await h.app.inject({ method: 'POST', url: '/v1/unlock', headers: JSON_HEADERS, payload: { now: true } })).statusCode, 400, 'unlock takes no fields')
  t.equal(h.state.current.locked, true)
  const un = await h.app.inject({ method: 'POST', url: '/v1/unlock', headers: JSON_HEADERS, payload: '' })
  t.equal(un.statusCode, 200, 'an empty JSON body counts as none')
  t.match(un.json(), { locked: false, lock_reason: null, split: { y: 0 } })
  const again = await h.app.inject({ method: 'POST', url: '/v1/unlock', headers: JSON_HEADERS, payload: '{}' })
  t.equal(again.statusCode, 200, 'unlock when not locked is fine')
  t.equal((await h.app.inject({ method: 'PUT', url: '/v1/split', headers: JSON_HEADERS, payload: { y: 5 } })).statusCode, 200)
})

t.test('503 STATE_WRITE when the store rejects, with the split unchanged', async (t) => {
  const h = harness({ store: { save: async () => Promise.reject(new Error('ENOSPC: no space left on device')) } })
  t.teardown(() => h.app.close())
  const res = await h.app.inject({ method: 'PUT', url: '/v1/split', headers: JSON_HEADERS, payload: { y: 60 } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'CUTOVER_ERR_STATE_WRITE')
  t.same(h.state.current, initialState)
  const rb = await h.app.inject({ method: 'POST', url: '/v1/rollback', headers: AUTH })
  t.equal(rb.statusCode, 503)
  t.same(h.state.current, initialState)
  t.equal(h.events.lastId, 0)
  t.ok(
    h.logs.some((l) => l.level === 50),
    'logged as an error',
  )
})

t.test('rollout endpoints call the runner; 409 while running; 503 without a runner', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  const bad = await h.app.inject({ method: 'POST', url: '/v1/rollout', headers: JSON_HEADERS, payload: { steps: 'fast' } })
  t.equal(bad.statusCode, 400)
  t.equal(h.rollout.calls.length, 0, 'steps that are not an array never reach the runner')
  const rejected = await h.app.inject({ method: 'POST', url: '/v1/rollout', headers: JSON_HEADERS, payload: { steps: [] } })
  t.equal(rejected.statusCode, 400, 'the runner refuses its own way')
  const start = await h.app.inject({ method: 'POST', url: '/v1/rollout', headers: JSON_HEADERS, payload: { steps: [{ y: 50, hold: '1s' }] } })
  t.equal(start.statusCode, 200)
  t.match(start.json(), { rollout: { status: 'running' } })
  t.same(h.rollout.calls.at(-1), ['start', [{ y: 50, hold: '1s' }]])
  const twice = await h.app.inject({ method: 'POST', url: '/v1/rollout', headers: AUTH })
  t.equal(twice.statusCode, 409)
  t.equal(twice.json().code, 'CUTOVER_ERR_ROLLOUT_RUNNING')
  const split = await h.app.inject({ method: 'PUT', url: '/v1/split', headers: JSON_HEADERS, payload: { y: 5 } })
  t.equal(split.statusCode, 409)
  t.equal(split.json().code, 'CUTOVER_ERR_ROLLOUT_RUNNING')

  for (const verb of ['pause', 'resume', 'promote']) {
    const res = await h.app.inject({ method: 'POST', url: `/v1/rollout/${verb}`, headers: AUTH })
    t.equal(res.statusCode, 200, verb)
    t.same(h.rollout.calls.at(-1), [verb, undefined])
    t.equal((await h.app.inject({ method: 'POST', url: `/v1/rollout/${verb}`, headers: JSON_HEADERS, payload: { x: 1 } })).statusCode, 400)
  }
  t.equal((await h.app.inject({ method: 'POST', url: '/v1/rollout/abort', headers: AUTH })).statusCode, 200)
  t.same(h.rollout.calls.at(-1), ['abort', undefined])
  t.equal((await h.app.inject({ method: 'POST', url: '/v1/rollout/abort', headers: JSON_HEADERS, payload: { reason: 'stop' } })).statusCode, 200)
  t.same(h.rollout.calls.at(-1), ['abort', 'stop'])
  t.equal((await h.app.inject({ method: 'POST', url: '/v1/rollout/abort', headers: JSON_HEADERS, payload: { reason: '' } })).statusCode, 400)

  const none = harness({ withRollout: false })
  t.teardown(() => none.app.close())
  for (const url of ['/v1/rollout', '/v1/rollout/pause', '/v1/rollout/abort']) {
    const res = await none.app.inject({ method: 'POST', url, headers: AUTH })
    t.equal(res.statusCode, 503, url)
    t.equal(res.json().code, 'CUTOVER_ERR_ROLLOUT_UNAVAILABLE')
  }
})

t.test('GET /v1/events: since and limit', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  for (let i = 0; i < 5; i++) h.events.add('test', { i })
  const all = await h.app.inject({ url: '/v1/events', headers: AUTH })
  t.equal(all.statusCode, 200)
  t.same(
    all.json().map((e: { id: number }) => e.id),
    [1, 2, 3, 4, 5],
  )
  t.match(all.json()[0], { id: 1, type: 'test', i: 0, text: 'test' }, 'each event with its sentence')
  t.same(
    (await h.app.inject({ url: '/v1/events?since=3', headers: AUTH })).json().map((e: { id: number }) => e.id),
    [4, 5],
  )
  t.same(
    (await h.app.inject({ url: '/v1/events?since=1&limit=2', headers: AUTH })).json().map((e: { id: number }) => e.id),
    [2, 3],
  )
  t.same((await h.app.inject({ url: '/v1/events?since=99', headers: AUTH })).json(), [])
  for (const q of ['since=-1', 'since=abc', 'since=1.5', 'since=', 'limit=0', 'limit=1001', 'since=1&since=2', 'sinc=1', 'limit=99999999999999999999']) {
    const res = await h.app.inject({ url: `/v1/events?${q}`, headers: AUTH })
    t.equal(res.statusCode, 400, q)
    t.equal(res.json().code, 'CUTOVER_ERR_BAD_REQUEST')
  }
})

t.test('404 and 405 are JSON; 405 carries Allow', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  const nf = await h.app.inject({ url: '/v1/nothing', headers: AUTH })
  t.equal(nf.statusCode, 404)
  t.equal(nf.json().code, 'CUTOVER_ERR_NOT_FOUND')
  t.equal((await h.app.inject({ url: '/nothing' })).statusCode, 404)
  const na = await h.app.inject({ method: 'DELETE', url: '/v1/split', headers: AUTH })
  t.equal(na.statusCode, 405)
  t.equal(na.headers.allow, 'PUT')
  t.equal(na.json().code, 'CUTOVER_ERR_METHOD_NOT_ALLOWED')
  const nb = await h.app.inject({ method: 'POST', url: '/healthz' })
  t.equal(nb.statusCode, 405)
  t.equal(nb.headers.allow, 'GET, HEAD')
  t.equal((await h.app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200)
})

t.test('real HTTP on 127.0.0.1:0', async (t) => {
  const h = harness({ dir: t.testdir({}) })
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => h.app.close())
  const { port } = h.app.server.address() as { port: number }
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (data += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }))
      })
      req.on('error', reject)
      req.end(body)
    })
  const unauth = await call('GET', '/v1/state', {})
  t.equal(unauth.status, 401)
  t.equal(unauth.headers['www-authenticate'], 'Bearer')
  const put = await call('PUT', '/v1/split', { ...JSON_HEADERS }, '{"y": 42}')
  t.equal(put.status, 200)
  t.match(JSON.parse(put.body), { split: { x: 58, y: 42 } })
  t.match(JSON.parse(h.disk()), { split: { y: 42 } })
  const big = await call('PUT', '/v1/split', { ...JSON_HEADERS }, `{"y": 1, "p": "${'x'.repeat(70_000)}"}`)
  t.equal(big.status, 413)
  t.equal(h.state.current.y, 42)
  const health = await call('GET', '/healthz', {})
  t.same(JSON.parse(health.body), { status: 'ok' })
})

t.test('an unexpected error is a JSON 500 with a code, logged, never leaked', async (t) => {
  const h = harness()
  t.teardown(() => h.app.close())
  h.ready = null as unknown as { ready: boolean } // readiness() now breaks the handler
  const res = await h.app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'internal error', code: 'CUTOVER_ERR_INTERNAL' })
  t.ok(h.logs.some((l) => l.level === 50 && l.msg === 'control: unexpected error'))
})

t.test('control.tls: a client that connects and never starts its handshake is closed after the handshake timeout; a real one is served', async (t) => {
  const h = harness({ tls: tlsFiles(), handshakeTimeoutMs: 300 })
  t.teardown(() => h.app.close())
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (h.app.server.address() as net.AddressInfo).port
  const silent = net.connect(port, '127.0.0.1')
  let closed = false
  silent.on('error', () => undefined)
  silent.on('close', () => (closed = true))
  t.teardown(() => silent.destroy())
  const started = performance.now()
  await waitUntil('the silent connection closed', () => closed, 5000)
  t.ok(performance.now() - started >= 250, 'not before the timeout')
  const status = await new Promise<number>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
      .on('error', reject)
      .end()
  })
  t.equal(status, 200, 'a TLS client is served')
})
