import t from 'tap'
import { request } from 'undici'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml, type TestCutoverOptions } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

t.test('a node removed by reload finishes its in-flight request and gets no new one; an added node takes traffic', async (t) => {
  let release: () => void = () => undefined
  const held = new Promise<void>((resolve) => (release = resolve))
  const x = await startUpstream('x1')
  const y1 = await startUpstream('y1', (req, res) => {
    req.resume()
    void held.then(() => {
      res.writeHead(200, { 'x-upstream': 'y1' })
      res.end('late but whole')
    })
  })
  const y2 = await startUpstream('y2')
  t.teardown(() => Promise.all([x.close(), y1.close(), y2.close()]))

  const options: TestCutoverOptions = { x: [x.url], y: [y1.url] }
  const c = await startTestCutover(options)
  t.teardown(() => c.cutover.close())
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)

  const inflight = request(`${c.proxyUrl}/slow`).then(async (r) => ({ status: r.statusCode, upstream: r.headers['x-upstream'], body: await r.body.text() }))
  await waitUntil('y1 holds the slow request', () => y1.seen.length > 0, 5000, 5)

  await c.cutover.reload(parseConfig(testConfigYaml({ ...options, y: [y2.url] }, c.stateDir)))
  const state = (await c.api('GET', '/v1/state')).body
  t.same(
    state.pools.y.nodes.map((n: { url: string }) => n.url),
    [y2.url],
    'y1 is gone from the node list',
  )
  t.same(state.split, { x: 0, y: 100 }, 'the live split stays')

  const fresh = await request(`${c.proxyUrl}/fresh`)
  await fresh.body.text()
  t.equal(fresh.headers['x-upstream'], 'y2', 'new requests go to the added node')
  t.equal(y1.seen.length, 1, 'the removed node got no new request')

  release()
  t.same(await inflight, { status: 200, upstream: 'y1', body: 'late but whole' }, 'the in-flight request finished on the removed node')

  // then its connection pool closes: the node sees its connections end
  const connections = () => new Promise<number>((resolve) => y1.server.getConnections((_e, n) => resolve(n)))
  await waitUntil('the removed node has no connection from cutover left', async () => (await connections()) === 0, 3000)

  const events = (await c.api('GET', '/v1/events')).body as Array<{ type: string; added: string[]; removed: string[] }>
  const reloaded = events.find((e) => e.type === 'config.reloaded')
  t.same(reloaded?.added, [`y:${y2.url}`])
  t.same(reloaded?.removed, [`y:${y1.url}`])
})
