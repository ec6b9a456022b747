/**
 * A fleet of 3 real cutover processes on a real 3-member etcd, under faults: etcd stopped
 * and restarted under load costs no client request and no lock, a lost etcd member
 * changes nothing, a replica rolls back alone while etcd is away and every replica
 * follows when it is back, a restarted replica takes the shared state.
 * Needs `npm run build` (the processes run bin/cutover.js) and etcd.
 */

import t from 'tap'
import { fleetSkip, fleetTestbed, startReplica, stopAll, through } from '../helpers/fleet.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const skip = fleetSkip
// several fleets of real processes one after another: over the default 60 s on a loaded 2-core machine
t.setTimeout(240_000)
const bed = fleetTestbed(t)

t.test('etcd stopped and restarted under load: no client error, writes 503 meanwhile, the lock survives', { skip }, async (t) => {
  const rs = await bed.fleet(t, bed.options(bed.yOk))
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 50 })).status, 200)
  t.equal((await rs[0].api('POST', '/v1/rollback', { reason: 'held for the test' })).status, 200)
  for (const r of rs) await waitUntil(`${r.id} locked`, async () => (await r.state()).locked, 5000, 5)
  let stop = false
  let errors = 0
  let answered = 0
  const load = (async () => {
    while (!stop) {
      const results = await Promise.all(rs.map((r) => through(r).catch(() => ({ status: 0, upstream: null }))))
      for (const res of results) res.status === 200 ? answered++ : errors++
    }
  })()
  await bed.cluster.killAll()
  for (const r of rs) {
    const ready = await waitUntil(
      `${r.id} not ready`,
      async () => {
        const res = await fetch(`${r.controlUrl}/readyz`)
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined
      },
      8000,
      50,
    )
    t.match(ready.reason, /state backend etcd unreachable/, `${r.id} /readyz says why`)
  }
  const write = await rs[1].api('POST', '/v1/unlock')
  t.equal(write.status, 503)
  t.equal(write.body.code, 'CUTOVER_ERR_STATE_BACKEND_DOWN')
  t.match(await (await fetch(`${rs[2].controlUrl}/metrics`)).text(), /cutover_state_backend_up 0/)
  const before = answered
  await waitUntil('traffic flows while etcd is down', () => answered > before + 30, 5000, 10)
  await bed.cluster.startAll()
  for (const r of rs) await waitUntil(`${r.id} ready again`, async () => (await fetch(`${r.controlUrl}/readyz`)).status === 200, 15_000, 50)
  stop = true
  await load
  t.equal(errors, 0, `no client error (${answered} answered)`)
  for (const r of rs) t.match(await r.state(), { locked: true, lock_reason: 'held for the test', split: { y: 0 } }, `${r.id} still locked`)
  t.equal((await rs[1].api('POST', '/v1/unlock')).status, 200, 'writes work again')
})

t.test('one etcd member of three killed: nothing changes, a split still propagates', { skip }, async (t) => {
  const rs = await bed.fleet(t, bed.options(bed.yOk))
  await bed.cluster.members[1].kill()
  t.teardown(() => bed.cluster.startAll())
  await waitUntil('a write through r3', async () => (await rs[2].api('PUT', '/v1/split', { y: 30 })).status === 200, 5000, 50)
  for (const r of rs) await waitUntil(`${r.id} at 30`, async () => (await r.state()).split.y === 30, 5000, 5)
  for (const r of rs) {
    const res = await fetch(`${r.controlUrl}/readyz`)
    t.equal(res.status, 200, `${r.id} ready: ${await res.text()}`)
  }
})

t.test('etcd down and y failing on one replica: it rolls back alone at once, and every replica when etcd is back', { skip }, async (t) => {
  let failing = false
  const yFlaky = await startUpstream('y-flaky', (req, res) => {
    req.resume()
    res.writeHead(failing ? 500 : 200, { 'x-upstream': 'y-flaky' })
    res.end()
  })
  t.teardown(() => yFlaky.close())
  const rs = await bed.fleet(t, bed.options(yFlaky, 'gates: { min_requests: 20, max_error_rate: 0.05 }'))
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 100 })).status, 200)
  for (const r of rs) await waitUntil(`${r.id} at y 100`, async () => (await r.state()).split.y === 100, 5000, 5)
  await bed.cluster.killAll()
  await waitUntil('r1 sees etcd down', async () => (await fetch(`${rs[0].controlUrl}/readyz`)).status === 503, 8000, 50)
  failing = true
  await waitUntil(
    'r1 rolls back on its own traffic',
    async () => {
      await through(rs[0])
      const s = await rs[0].state()
      return s.split.y === 0 && s.locked
    },
    8000,
    5,
  )
  t.equal((await through(rs[0])).upstream, 'x', 'r1 routes to x while etcd is down')
  t.equal((await rs[1].state()).split.y, 100, 'r2 cannot know yet')
  await bed.cluster.startAll()
  for (const r of rs) {
    await waitUntil(
      `${r.id} rolled back once etcd is back`,
      async () => {
        const s = await r.state()
        return s.split.y === 0 && s.locked
      },
      15_000,
      50,
    )
  }
  const s = await rs[0].state()
  t.match(s.lock_reason, /^gate max_error_rate/, 'the lock names the gate')
  // events travel apart from the state: wait for it
  const told = await waitUntil(
    'r3 told of the rollback r1 made',
    async () => {
      const events = (await rs[2].api('GET', '/v1/events?limit=1000')).body as Array<Record<string, unknown>>
      return events.find((e) => e.type === 'rollback.shared' && e.replica === 'r1')
    },
    5000,
    20,
  )
  t.match(told.reason, /while etcd was unreachable/, 'r3 is told r1 rolled back while etcd was away')
})

t.test('a replica restarted takes the shared state, not its config split.y', { skip }, async (t) => {
  const o = bed.options(bed.yOk, 'split: { y: 90 }')
  const rs = await bed.fleet(t, o)
  t.equal((await rs[0].state()).split.y, 90, 'the first replica wrote split.y')
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 15 })).status, 200)
  const r3 = rs[2]
  r3.child.kill('SIGTERM')
  await r3.exited
  const again = await startReplica(o, 'r3')
  t.teardown(() => stopAll([again]))
  t.equal((await again.state()).split.y, 15)
})

t.test('a replica started while etcd is away starts, sends everything to x, and takes the shared state once etcd is back', { skip }, async (t) => {
  const o = bed.options(bed.yOk)
  const rs = await bed.fleet(t, o)
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 100 })).status, 200)
  await bed.cluster.killAll()
  const late = await startReplica(o, 'r4')
  t.teardown(() => stopAll([late]))
  t.equal((await late.state()).split.y, 0, 'no shared state known: all to x')
  t.equal((await through(late)).upstream, 'x')
  t.equal((await fetch(`${late.controlUrl}/readyz`)).status, 503, 'and not ready')
  await bed.cluster.startAll()
  await waitUntil('r4 takes the shared split', async () => (await late.state()).split.y === 100, 15_000, 50)
  t.equal((await through(late)).upstream, 'y')
})
