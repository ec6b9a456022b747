/**
 * Per-node control end to end (issue 14): PUT /v1/nodes/{pool}/{node} against a real
 * cutover with real upstreams: drain and maint take a node out of traffic, maint stops its
 * probes, a runtime weight moves the share, the last usable node needs force, the change
 * is an event (who and from where), a metric, kept in the state file, and wins over a reload.
 */

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { OPERATOR, startOperatorCutover, type OperatorCutover } from './operator-harness.js'

async function hits(c: OperatorCutover, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${c.proxyUrl}/r${i}`)
    await res.arrayBuffer()
    const who = res.headers.get('x-upstream') ?? String(res.status)
    seen[who] = (seen[who] ?? 0) + 1
  }
  return seen
}

const node = (u: TestUpstream, name: string, weight = 1) => `{ url: ${u.url}, name: ${name}, weight: ${weight} }`

async function metric(c: OperatorCutover, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${c.controlUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('drain, maint with force, ready, runtime weight: traffic, state, events, metrics, restart, reload', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  const y1 = await startUpstream('y1')
  t.teardown(() => Promise.all([a.close(), b.close(), y1.close()]).then(() => undefined))
  const opts = { x: [node(a, 'a'), node(b, 'b')], y: [node(y1, 'y1')] }
  let c = await startOperatorCutover(opts)
  t.teardown(() => c.cutover.close())
  const put = (pool: string, name: string, body: unknown) => c.call(OPERATOR, 'PUT', `/v1/nodes/${pool}/${name}`, body)

  // drain a: no new requests to a, b takes all of x's
  const drained = await put('x', 'a', { admin: 'drain' })
  t.equal(drained.status, 200)
  t.match(drained.body.pools.x.nodes[0], { name: 'a', admin: 'drain', weight: 1, weight_source: 'config', config_weight: 1 })
  t.same(await hits(c, 30), { b: 30 }, 'a drained node gets no new request')
  t.equal(await metric(c, 'cutover_node_admin_state{pool="x",node="a",state="drain"}'), 1)
  t.equal(await metric(c, 'cutover_node_admin_state{pool="x",node="a",state="ready"}'), 0)
  t.equal(await metric(c, 'cutover_node_admin_state{pool="x",node="b",state="ready"}'), 1)
  const events = (await c.call(OPERATOR, 'GET', '/v1/events')).body as Array<Record<string, unknown>>
  t.match(
    events.find((e) => e.type === 'node.admin'),
    { cause: 'api', pool: 'x', node: 'a', from: 'ready', to: 'drain', role: 'operator', remote: '127.0.0.1' },
  )

  // b is now the last usable node of x, which has all the traffic: maint needs force
  const refused = await put('x', 'b', { admin: 'maint' })
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'CUTOVER_ERR_LAST_NODE')
  t.match(refused.body.error, /last usable node of pool x.*force/)
  t.same(await hits(c, 5), { b: 5 }, 'refused: nothing changed')
  const forced = await put('x', 'b', { admin: 'maint', force: true })
  t.equal(forced.status, 200)
  t.same(await hits(c, 10), { y1: 10 }, 'x has no usable node: its share goes to y (SPEC 4.3)')
  const ready = await fetch(`${c.controlUrl}/readyz`)
  t.equal(ready.status, 503, 'x has all the share and no node an operator lets take it: not ready')
  t.same(await ready.json(), { ready: false, reason: 'no usable node in pool x' })
  const last = ((await c.call(OPERATOR, 'GET', '/v1/events')).body as Array<Record<string, unknown>>).at(-1)
  t.match(last, { type: 'node.admin', node: 'b', to: 'maint', force: true })

  // ready both, then a runtime weight of 3 on a: about 3 of 4 requests to a
  t.equal((await put('x', 'a', { admin: 'ready' })).status, 200)
  t.equal((await put('x', 'b', { admin: 'ready' })).status, 200)
  const weighted = await put('x', 'a', { weight: 3 })
  t.match(weighted.body.pools.x.nodes[0], { admin: 'ready', weight: 3, weight_source: 'runtime', config_weight: 1 })
  const split = await hits(c, 400)
  // binomial(400, 0.75): sd 8.7; 60 is about 7 sd away from both 300 and an even 200
  t.ok(Math.abs((split.a ?? 0) - 300) < 60, `a got ${split.a} of 400 at weight 3:1`)

  // in the state file, and kept over a restart
  const file = JSON.parse(readFileSync(join(c.stateDir, 'state.json'), 'utf8'))
  t.same(Object.keys(file.nodes.x), ['a'])
  t.match(file.nodes.x.a, { admin: 'ready', weight: 3 })
  await c.cutover.close()
  c = await startOperatorCutover({ ...opts, stateDir: c.stateDir })
  const after = (await c.call(OPERATOR, 'GET', '/v1/state')).body
  t.match(after.pools.x.nodes[0], { name: 'a', weight: 3, weight_source: 'runtime' }, 'a restart keeps the runtime weight')

  // a reload with another config weight: the runtime weight still wins, until reset
  await c.cutover.reload(parseConfig(c.yaml([node(a, 'a', 5), node(b, 'b')], [node(y1, 'y1')]), { source: 'test' }))
  const reloaded = (await c.call(OPERATOR, 'GET', '/v1/state')).body
  t.match(reloaded.pools.x.nodes[0], { weight: 3, weight_source: 'runtime', config_weight: 5 }, 'runtime wins over a reload')
  const reset = await put('x', 'a', { weight: null })
  t.match(reset.body.pools.x.nodes[0], { weight: 5, weight_source: 'config' })
  t.equal(JSON.parse(readFileSync(join(c.stateDir, 'state.json'), 'utf8')).nodes, undefined, 'nothing left in the state file')

  // what is refused names what is wrong, and changes nothing
  const unknown = await put('x', 'nope', { admin: 'drain' })
  t.equal(unknown.status, 404)
  t.match(unknown.body, { code: 'CUTOVER_ERR_NOT_FOUND', error: /no node nope in pool x; its nodes: a, b/ })
  for (const [body, message] of [
    [{}, 'body: expected at least one of admin, weight'],
    [{ admin: 'off' }, 'admin: expected one of ready, drain, maint'],
    [{ weight: 0 }, "weight: expected a number above 0 and at most 1000, or null for the config's weight"],
    [{ weight: '2' }, "weight: expected a number above 0 and at most 1000, or null for the config's weight"],
    [{ admin: 'drain', force: 'yes' }, 'force: expected true or false'],
    [{ admin: 'drain', why: 1 }, 'why: unknown field (expected admin, weight, force)'],
  ] as const) {
    const res = await put('x', 'a', body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.same(res.body, { error: message, code: 'CUTOVER_ERR_BAD_REQUEST' })
  }
  t.match(await c.call(OPERATOR, 'PUT', '/v1/nodes/z/a', { admin: 'drain' }), { status: 400, body: { error: 'pool: expected x or y' } })
  t.match((await c.call(OPERATOR, 'GET', '/v1/state')).body.pools.x.nodes[0], { admin: 'ready', weight: 5 })
})

t.test('maint stops the probes of a node; ready has it probed again before it takes traffic', async (t) => {
  const probes: Record<string, number> = { a: 0, b: 0 }
  const counting = (name: 'a' | 'b') =>
    startUpstream(name, (req, res) => {
      if (req.url === '/status') probes[name]++
      res.writeHead(200, { 'x-upstream': name })
      res.end('ok')
    })
  const a = await counting('a')
  const b = await counting('b')
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined))
  const c = await startOperatorCutover({
    x: [node(a, 'a'), node(b, 'b')],
    y: [],
    extra: 'health: { active: { path: /status, interval: 50ms, timeout: 40ms, healthy_threshold: 2, unhealthy_threshold: 2 } }',
  })
  t.teardown(() => c.cutover.close())
  const state = async () => (await c.call(OPERATOR, 'GET', '/v1/state')).body
  await waitUntil('both healthy', async () => (await state()).pools.x.nodes.every((n: { healthy: boolean }) => n.healthy === true), 5000)

  t.equal((await c.call(OPERATOR, 'PUT', '/v1/nodes/x/a', { admin: 'maint' })).status, 200)
  const aAtMaint = probes.a
  const bAtMaint = probes.b
  await waitUntil('b probed 5 more times', () => probes.b >= bAtMaint + 5, 5000)
  t.ok(probes.a <= aAtMaint + 1, `a in maint was probed ${probes.a - aAtMaint} times while b was probed ${probes.b - bAtMaint} times (one may have been under way)`)
  t.match((await state()).pools.x.nodes[0], { admin: 'maint', healthy: null, last_probe: null }, 'no verdict while not probed')

  t.equal((await c.call(OPERATOR, 'PUT', '/v1/nodes/x/a', { admin: 'ready' })).status, 200)
  await waitUntil('a probed healthy again', async () => (await state()).pools.x.nodes[0].healthy === true, 5000)
  t.ok(probes.a >= aAtMaint + 2, 'the probes found it healthy again')
  const seen = await hits(c as OperatorCutover, 40)
  t.ok((seen.a ?? 0) > 0 && (seen.b ?? 0) > 0, `both take traffic again: ${JSON.stringify(seen)}`)
})

t.test('passive ejection never takes out the last node an operator left in traffic', async (t) => {
  const a = await startUpstream('a')
  // b answers 502: five in a row would eject it, were a (drained) counted as usable
  const b = await startUpstream('b', (req, res) => {
    req.resume()
    res.writeHead(502, { 'x-upstream': 'b' })
    res.end('bad gateway')
  })
  const c1 = await startUpstream('c')
  t.teardown(() => Promise.all([a.close(), b.close(), c1.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [node(a, 'a'), node(b, 'b'), node(c1, 'c')], y: [] })
  t.teardown(() => c.cutover.close())
  t.equal((await c.call(OPERATOR, 'PUT', '/v1/nodes/x/a', { admin: 'drain' })).status, 200)
  t.equal((await c.call(OPERATOR, 'PUT', '/v1/nodes/x/c', { admin: 'maint' })).status, 200)
  const seen = await hits(c, 20)
  t.same(seen, { b: 20 }, 'b is the only node left in traffic')
  const events = (await c.call(OPERATOR, 'GET', '/v1/events')).body as Array<{ type: string }>
  t.notOk(
    events.some((e) => e.type === 'node.ejected'),
    'b was not ejected',
  )
  t.match((await c.call(OPERATOR, 'GET', '/v1/state')).body.pools.x.nodes[1], { name: 'b', ejected: false })
})
