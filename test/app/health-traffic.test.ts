import t from 'tap'
import { request } from 'undici'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

t.test('a node whose probe answers 503 then 200 goes unhealthy then healthy, and traffic follows', async (t) => {
  let ready = true
  const kongLike = (name: string, flips: boolean) =>
    startUpstream(name, (req, res) => {
      req.resume()
      if (req.url === '/status/ready') {
        const ok = !flips || ready
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        res.end(ok ? '{"message":"ready"}' : '{"message":"no configuration available"}')
        return
      }
      res.writeHead(200, { 'x-upstream': name })
      res.end(name)
    })
  const x1 = await kongLike('x1', false)
  const x2 = await kongLike('x2', true)
  t.teardown(() => Promise.all([x1.close(), x2.close()]))
  const c = await startTestCutover({ x: [x1.url, x2.url], y: [], extra: 'health: { active: { interval: 250ms, timeout: 250ms } }' })
  t.teardown(() => c.cutover.close())

  const servedBy = async (n: number) => {
    const seen = new Set<string>()
    for (let i = 0; i < n; i++) {
      const r = await request(`${c.proxyUrl}/`)
      await r.body.text()
      seen.add(String(r.headers['x-upstream']))
    }
    return seen
  }
  const health = async (): Promise<boolean | null> => (await c.api('GET', '/v1/state')).body.pools.x.nodes[1].healthy

  await waitUntil('both nodes healthy', async () => (await health()) === true, 5000, 50)
  t.same([...(await servedBy(40))].sort(), ['x1', 'x2'], 'both nodes take traffic')

  // a probe that timed out on a loaded machine may have flapped a node before: judge only
  // what happens to x2 once its status port says 503
  type Event = { id: number; type: string; node?: string; cause: string }
  const before = Math.max(0, ...((await c.api('GET', '/v1/events')).body as Event[]).map((e) => e.id))
  ready = false
  await waitUntil('x2 unhealthy', async () => (await health()) === false, 5000, 50)
  t.same([...(await servedBy(40))], ['x1'], 'no traffic to the unhealthy node')
  const events = (await c.api('GET', '/v1/events')).body as Event[]
  const x2Name = new URL(x2.url).host
  t.match(events.find((e) => e.id > before && e.type === 'node.unhealthy' && e.node === x2Name)?.cause, /probe failed 2\/2: status 503/)

  ready = true
  await waitUntil('x2 healthy again', async () => (await health()) === true, 5000, 50)
  t.same([...(await servedBy(40))].sort(), ['x1', 'x2'], 'traffic returns to it')
})
