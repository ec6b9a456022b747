import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { startTestCutover, tempDir } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; upstream: string | undefined; body: string }> {
  const res = await request(url, { headers })
  const body = await res.body.text()
  return { status: res.statusCode, upstream: res.headers['x-upstream'] as string | undefined, body }
}

t.test('the split moves with the API, is persisted, and survives a restart', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const stateDir = tempDir()
  const first = await startTestCutover({ x: [x.url], y: [y.url], stateDir })

  let r = await get(`${first.proxyUrl}/`)
  t.equal(r.upstream, 'x1', 'y starts at 0')

  const put = await first.api('PUT', '/v1/split', { y: 100 })
  t.equal(put.status, 200)
  t.same(put.body.split, { x: 0, y: 100 })
  r = await get(`${first.proxyUrl}/`)
  t.equal(r.upstream, 'y1', 'all traffic on y after the split')

  const put2 = await first.api('PUT', '/v1/split', { y: 37.5 })
  t.equal(put2.status, 200)
  await first.cutover.close()

  const second = await startTestCutover({ x: [x.url], y: [y.url], stateDir })
  t.teardown(() => second.cutover.close())
  const state = await second.api('GET', '/v1/state')
  t.same(state.body.split, { x: 62.5, y: 37.5 }, 'the state file wins over split.y')
  const events = await second.api('GET', '/v1/events')
  t.equal(events.body[0].type, 'startup')
})

t.test('rollback locks the split; unlock clears the lock and keeps the split', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(() => c.cutover.close())
  t.equal((await c.api('PUT', '/v1/split', { y: 50 })).status, 200)
  const rb = await c.api('POST', '/v1/rollback', { reason: 'y answers 500 on /orders' })
  t.equal(rb.status, 200)
  t.same(rb.body.split, { x: 100, y: 0 })
  t.equal(rb.body.locked, true)
  t.equal(rb.body.lock_reason, 'y answers 500 on /orders')
  const refused = await c.api('PUT', '/v1/split', { y: 10 })
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'CUTOVER_ERR_LOCKED')
  const un = await c.api('POST', '/v1/unlock')
  t.equal(un.status, 200)
  t.equal(un.body.locked, false)
  t.same(un.body.split, { x: 100, y: 0 })
  const events = (await c.api('GET', '/v1/events')).body as Array<{ type: string; cause?: string; reason?: string }>
  const types = events.map((e) => e.type)
  t.same(types.slice(-3), ['split.changed', 'rollback', 'unlock'])
  t.equal(events.at(-2)?.cause, 'api')
  t.equal(events.at(-2)?.reason, 'y answers 500 on /orders')
})

t.test('a corrupt state file is moved aside and cutover starts at y 0, locked', async (t) => {
  const x = await startUpstream('x1')
  t.teardown(() => x.close())
  const stateDir = tempDir()
  writeFileSync(join(stateDir, 'state.json'), '{"version": 1, "split": {"y": 4')
  const c = await startTestCutover({ x: [x.url], y: [], stateDir })
  t.teardown(() => c.cutover.close())
  const state = await c.api('GET', '/v1/state')
  t.same(state.body.split, { x: 100, y: 0 })
  t.equal(state.body.locked, true)
  t.match(state.body.lock_reason, /state file could not be read/)
  const files = readdirSync(stateDir)
  t.ok(
    files.some((f) => f.startsWith('state.json.corrupt-')),
    `moved aside: ${files.join(', ')}`,
  )
  t.ok(files.includes('state.json'), 'a fresh state file was written')
  const events = (await c.api('GET', '/v1/events')).body as Array<{ type: string }>
  t.ok(events.some((e) => e.type === 'state.unreadable'))
})

t.test('metrics carry the SPEC names and labels after traffic', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(() => c.cutover.close())
  await c.api('PUT', '/v1/split', { y: 50 })
  for (let i = 0; i < 20; i++) await get(`${c.proxyUrl}/m${i}`)
  const res = await fetch(`${c.controlUrl}/metrics`)
  t.equal(res.status, 200, 'no token needed')
  const body = await res.text()
  const node = (u: string) => u.replace('http://', '')
  t.match(body, /cutover_requests_total\{pool="x",code="2xx"\} \d+/)
  t.match(body, /cutover_requests_total\{pool="y",code="2xx"\} \d+/)
  t.match(body, /cutover_request_duration_seconds_count\{pool="x"\} \d+/)
  t.match(body, `cutover_upstream_errors_total{pool="y",node="${node(y.url)}",kind="connect"} 0`)
  t.match(body, 'cutover_split_percent{pool="y"} 50')
  t.match(body, `cutover_node_healthy{pool="x",node="${node(x.url)}"} 1`)
  t.match(body, 'cutover_rollbacks_total{trigger="api"} 0')
  t.match(body, /cutover_requests_in_flight\{pool="x"\} 0/)
  // one request at a time: one connection to each node, idle between requests
  t.match(body, `cutover_upstream_connections{pool="x",node="${node(x.url)}",state="in_use"} 0`)
  t.match(body, `cutover_upstream_connections{pool="x",node="${node(x.url)}",state="idle"} 1`)
  t.match(body, `cutover_upstream_connections_opened_total{pool="x",node="${node(x.url)}"} 1`)
  t.match(body, `cutover_upstream_requests_waiting{pool="y",node="${node(y.url)}"} 0`)
  t.match(body, /process_resident_memory_bytes/)
})

t.test('healthz and readyz', async (t) => {
  const x = await startUpstream('x1')
  t.teardown(() => x.close())
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(() => c.cutover.close())
  t.equal((await fetch(`${c.controlUrl}/healthz`)).status, 200)
  t.equal((await fetch(`${c.controlUrl}/readyz`)).status, 200, 'x has a node and all the share')
  await c.api('PUT', '/v1/split', { y: 100 })
  // SPEC 3: ready only when a pool with a share above 0 has a usable node; y has none
  const notReady = await fetch(`${c.controlUrl}/readyz`)
  t.equal(notReady.status, 503)
  t.match(await notReady.json(), { ready: false, reason: /y/ })
  t.equal((await get(`${c.proxyUrl}/`)).upstream, 'x1', 'failover to x when y has no node')
})

t.test('the proxy port forwards every path, the control paths included', async (t) => {
  const x = await startUpstream('x1')
  t.teardown(() => x.close())
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(() => c.cutover.close())
  for (const path of ['/v1/state', '/v1/split', '/metrics', '/healthz', '/readyz', '/']) {
    const r = await get(`${c.proxyUrl}${path}`)
    t.equal(r.upstream, 'x1', `${path} reached the node`)
    t.same(JSON.parse(r.body), { upstream: 'x1', path })
  }
  t.same(
    x.seen.map((s) => s.url),
    ['/v1/state', '/v1/split', '/metrics', '/healthz', '/readyz', '/'],
  )
})
