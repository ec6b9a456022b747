/**
 * Shadowing end to end: a real cutover between real x and y servers whose answers differ
 * in a controlled way (status, a header, a JSON field; an ignored field and key order
 * that must not count), the mismatch classes and rates, the redaction of samples, the
 * marking header, and a slow y whose copies are dropped while clients get x's answers.
 */

import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/** x and y agree on /users/:id (but for an ignored field and key order) and /same; not on the rest. */
function node(role: 'x' | 'y', agree: () => boolean) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    const path = (req.url ?? '').split('?')[0]
    const y = role === 'y' && !agree()
    if (path.startsWith('/users/')) {
      const id = path.split('/')[2]
      // the same fields in another order, and `at` differs (ignored by shadow.ignore_fields)
      return json(res, 200, role === 'x' ? { id, name: 'ada', at: 1 } : { at: 2, name: 'ada', id })
    }
    if (path === '/status-diff') return json(res, y ? 500 : 200, { ok: !y })
    if (path === '/header-diff') return json(res, 200, { ok: true }, { 'x-version': y ? '2' : '1' })
    if (path.startsWith('/json-diff/')) return json(res, 200, { data: { name: y ? 'bob' : 'ada', list: [1, 2] } })
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('same')
  }
}

t.test('mismatch classes by method, route pattern and statuses; samples redacted; only the configured methods copied', async (t) => {
  const x = await startUpstream(
    'x',
    node('x', () => true),
  )
  const y = await startUpstream(
    'y',
    node('y', () => false),
  )
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  ignore_fields: [at]\n  redact_headers: [x-secret]\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(c.proxyUrl + path, { headers })
    return { status: res.status, body: await res.text() }
  }
  await get('/status-diff?apikey=secret-key-1&page=2', { authorization: 'Bearer secret-token', cookie: 'session=secret-cookie', 'x-secret': 'secret-header', 'x-plain': 'shown' })
  for (let i = 0; i < 10; i++) t.equal((await get(`/users/${1000 + i}`)).status, 200)
  for (let i = 0; i < 5; i++) t.same(JSON.parse((await get('/status-diff')).body), { ok: true }, 'the client gets x, never y')
  for (let i = 0; i < 4; i++) await get('/header-diff')
  for (let i = 0; i < 3; i++) await get(`/json-diff/${'a1b2c3d4e5f60718'}${i}`)
  for (let i = 0; i < 6; i++) await get('/same')
  // a POST (with a body) and a DELETE are never copied by default
  await fetch(`${c.proxyUrl}/same`, { method: 'POST', body: 'x' })
  await fetch(`${c.proxyUrl}/same`, { method: 'DELETE' })

  const report = await waitUntil(
    'every copy compared',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.match + body.totals.mismatch >= 29 ? body : undefined
    },
    10_000,
  )
  t.same(report.totals, { match: 16, mismatch: 13, error: 0, dropped: 0 })
  t.equal(report.enabled, true)
  t.equal(report.share, 100)
  t.equal(report.mismatch_rate, 13 / 29)
  const byKey = new Map(report.classes.map((k: { method: string; route: string; x_status: number; y_status: number }) => [`${k.method} ${k.route} ${k.x_status}->${k.y_status}`, k]))
  t.same([...byKey.keys()], ['GET /status-diff 200->500', 'GET /header-diff 200->200', 'GET /json-diff/:id 200->200'], 'the top classes, largest first; ids in paths normalised')
  // biome-ignore lint/suspicious/noExplicitAny: the API's JSON
  const cls = (k: string) => byKey.get(k) as any
  t.equal(cls('GET /status-diff 200->500').count, 6)
  t.ok(cls('GET /status-diff 200->500').differences.includes('status 200 -> 500'))
  t.ok(cls('GET /status-diff 200->500').differences.includes('body field ok'))
  t.same(cls('GET /header-diff 200->200').differences, ['header x-version'])
  t.same(cls('GET /json-diff/:id 200->200').differences, ['body field data.name'])
  t.ok(cls('GET /header-diff 200->200').samples.length <= 3)

  const sample = cls('GET /status-diff 200->500').samples.find((s: { target: string }) => s.target.includes('apikey'))
  t.equal(sample.target, '/status-diff?apikey=…&page=…')
  t.equal(sample.headers.authorization, '[redacted]')
  t.equal(sample.headers.cookie, '[redacted]')
  t.equal(sample.headers['x-secret'], '[redacted]')
  t.equal(sample.headers['x-plain'], 'shown')
  t.notMatch(JSON.stringify(report), /secret-/, 'no credential, cookie or configured header is stored')

  t.equal(y.seen.length, 29, 'y saw only the copies')
  t.ok(
    y.seen.every((s) => s.method === 'GET' && s.headers['x-cutover-shadow'] === '1'),
    'every copy is GET and marked for Kong’s log',
  )
  t.ok(
    x.seen.every((s) => s.headers['x-cutover-shadow'] === undefined),
    'x never sees the mark',
  )
  t.equal(y.seen[0].headers.host, x.seen[0].headers.host, 'the Host header goes on as sent')
  t.equal(await metricValue(c, 'cutover_shadow_total{outcome="mismatch"}'), 13)
  t.equal(await metricValue(c, 'cutover_shadow_total{outcome="match"}'), 16)
})

t.test('a y that does not answer: copies dropped at the time limit and the cap, clients get x', async (t) => {
  const x = await startUpstream('x')
  const held: ServerResponse[] = []
  const y = await startUpstream('y', (_req, res) => {
    held.push(res)
  })
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  timeout: 300ms\n  max_concurrent: 2\n' })
  t.teardown(async () => {
    await c.cutover.close()
    for (const r of held) r.destroy()
    await Promise.all([x.close(), y.close()])
  })
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(`${c.proxyUrl}/p/${i}`).then((r) => r.json() as Promise<{ upstream: string }>)))
  t.ok(
    answers.every((a) => a.upstream === 'x'),
    'every client got x’s answer',
  )
  const report = await waitUntil(
    'the copies dropped',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.dropped >= 8 ? body : undefined
    },
    10_000,
  )
  t.same(report.totals, { match: 0, mismatch: 0, error: 0, dropped: 8 }, 'each dropped, at the time limit or at the cap')
  const reasons = report.dropped_reasons as Record<string, number>
  t.equal(reasons.timeout + reasons.busy, 8)
  t.ok(reasons.timeout >= 2, 'the copies with a slot dropped at the time limit')
  for (const reason of ['timeout', 'busy', 'no_y_node']) {
    t.equal(await metricValue(c, `cutover_shadow_dropped_total{reason="${reason}"}`), reasons[reason], `cutover_shadow_dropped_total{reason="${reason}"} as in /v1/shadow`)
  }
})

t.test('a y that refuses connections: copies counted as errors', async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  await y.close()
  for (let i = 0; i < 3; i++) await fetch(`${c.proxyUrl}/p`).then((r) => r.text())
  const report = await waitUntil(
    'the errors counted',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.error >= 3 ? body : undefined
    },
    10_000,
  )
  t.equal(report.totals.error, 3)
})

t.test('max_shadow_mismatch_rate holds the first step until y agrees on enough answers', async (t) => {
  let agree = false
  const x = await startUpstream(
    'x',
    node('x', () => true),
  )
  const y = await startUpstream(
    'y',
    node('y', () => agree),
  )
  const c = await startTestCutover({
    x: [x.url],
    y: [y.url],
    extra: 'shadow:\n  share: 100\ngates:\n  min_requests: 10\n  max_shadow_mismatch_rate: 0.5\nrollout:\n  steps:\n    - { y: 0, hold: 1s }\n    - { y: 100 }\n',
  })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await c.api('POST', '/v1/rollout')).status, 200)
  for (let i = 0; i < 10; i++) await fetch(`${c.proxyUrl}/status-diff`).then((r) => r.text())
  const held = await waitUntil(
    'the first step held by the shadow gate',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.rollout?.holding?.includes('disagrees') ? body : undefined
    },
    10_000,
  )
  t.match(held.rollout.holding, /shadow: y disagrees with x on 10 of 10 answers \(1 > max_shadow_mismatch_rate 0.5\)/)
  t.equal(held.split.y, 0)
  agree = true
  for (let i = 0; i < 20; i++) await fetch(`${c.proxyUrl}/status-diff`).then((r) => r.text())
  const done = await waitUntil(
    'the rollout done',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.rollout === null && body.split.y === 100 ? body : undefined
    },
    15_000,
  )
  t.equal(done.split.y, 100)
})

t.test('a reload turns shadowing on, changes it and turns it off', async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const options = { x: [x.url], y: [y.url] }
  const c = await startTestCutover(options)
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) await fetch(`${c.proxyUrl}/r`).then((r) => r.text())
  }
  await send(3)
  t.equal(y.seen.length, 0, 'off: nothing copied')
  t.equal((await c.api('GET', '/v1/shadow')).body.enabled, false)
  await c.cutover.reload(parseConfig(testConfigYaml({ ...options, extra: 'shadow: { share: 100, header: x-copy }\n' }, c.stateDir)))
  await send(3)
  await waitUntil('three copies', () => y.seen.length >= 3, 5000)
  t.ok(y.seen.every((s) => s.headers['x-copy'] === '1'))
  await c.cutover.reload(parseConfig(testConfigYaml({ ...options, extra: 'shadow: { share: 100, methods: [HEAD] }\n' }, c.stateDir)))
  await send(2)
  await c.cutover.reload(parseConfig(testConfigYaml(options, c.stateDir)))
  await send(2)
  const report = await waitUntil(
    'the copies compared',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.mismatch >= 3 ? body : undefined
    },
    5000,
  )
  t.equal(y.seen.length, 3, 'GET not copied once only HEAD is; nothing once shadow is gone')
  t.equal(report.totals.mismatch, 3, 'x and y name themselves: every copy differs')
  t.equal(report.enabled, false)
})
