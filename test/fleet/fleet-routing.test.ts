/**
 * A fleet of 3 real cutover processes on a real 3-member etcd behaves as one cutover:
 * a split set on one routes on all, a gate over the fleet's summed traffic rolls every
 * replica back, a rollout survives its leader's death.
 * Needs `npm run build` (the processes run bin/cutover.js) and etcd.
 */

import t from 'tap'
import { Etcd3 } from 'etcd3'
import { fleetSkip, fleetTestbed, leaderOf, through } from '../helpers/fleet.js'
import { waitUntil } from '../helpers/wait.js'

const skip = fleetSkip
// several fleets of real processes one after another: over the default 60 s on a loaded 2-core machine
t.setTimeout(240_000)
const bed = fleetTestbed(t)

t.test('a split set through one replica routes on every replica', { skip }, async (t) => {
  const rs = await bed.fleet(t, bed.options(bed.yOk))
  const put = await rs[1].api('PUT', '/v1/split', { y: 100 })
  t.equal(put.status, 200)
  for (const r of rs) {
    await waitUntil(`${r.id} at y 100`, async () => (await r.state()).split.y === 100, 5000, 5)
    t.equal((await through(r)).upstream, 'y', `${r.id} routes to y`)
  }
  const s = await rs[0].state()
  t.equal(s.fleet.replicas.length, 3)
  t.equal(s.fleet.replicas.filter((r: { leader: boolean }) => r.leader).length, 1, 'one leader shown')
  t.match(s.fleet.replicas[0], {
    id: 'r1',
    control: /:\d+$/,
    last_seen: /Z$/,
    traffic: { x: { requests: Number }, y: { requests: Number } },
    nodes: [
      { pool: 'x', usable: true },
      { pool: 'y', usable: true },
    ],
  })
  const metrics = await (await fetch(`${rs[0].controlUrl}/metrics`)).text()
  t.match(metrics, /cutover_state_backend_up 1/)
  t.match(metrics, /cutover_fleet_replicas 3/)
  t.match(metrics, /cutover_state_propagation_seconds_count [1-9]/)
})

t.test("a gate trip on one replica's traffic rolls back every replica", { skip }, async (t) => {
  const rs = await bed.fleet(t, bed.options(bed.yBad, 'gates: { min_requests: 20, max_error_rate: 0.05 }'))
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 100 })).status, 200)
  for (const r of rs) await waitUntil(`${r.id} at y 100`, async () => (await r.state()).split.y === 100, 5000, 5)
  await waitUntil(
    'r2 trips on its own traffic',
    async () => {
      await through(rs[1])
      return (await rs[1].state()).locked
    },
    8000,
    5,
  )
  for (const r of rs) {
    await waitUntil(
      `${r.id} rolled back`,
      async () => {
        const s = await r.state()
        return s.split.y === 0 && s.locked
      },
      5000,
      5,
    )
    t.equal((await through(r)).upstream, 'x', `${r.id} routes to x`)
  }
  t.equal((await rs[0].state()).gates.y.requests, 0, 'r1 saw no y traffic itself')
})

t.test("the leader judges the fleet's summed windows: traffic no replica saw alone rolls every replica back", { skip }, async (t) => {
  const o = bed.options(bed.yOk, 'gates: { min_requests: 20, max_error_rate: 0.05 }')
  const rs = await bed.fleet(t, o)
  t.equal((await rs[0].api('PUT', '/v1/split', { y: 100 })).status, 200)
  for (const r of rs) await waitUntil(`${r.id} at y 100`, async () => (await r.state()).split.y === 100, 5000, 5)
  // a fourth replica's record, as it would publish it: y failing on its traffic (the test is its etcd client)
  const client = new Etcd3({ hosts: bed.cluster.endpoints })
  t.teardown(() => client.close())
  const now = Math.floor(Date.now() / 1000)
  const pool = (r: number, e: number) => ({ r, e, h: r > e ? [[100, r - e]] : [] })
  const record = {
    v: 1,
    id: 'r4',
    control: '127.0.0.1:1',
    started_at: new Date().toISOString(),
    totals: { x: { requests: 0, errors: 0 }, y: { requests: 400, errors: 200 } },
    buckets: [{ t: now, x: pool(0, 0), y: pool(400, 200) }],
  }
  await client.put(`${o.prefix}/replicas/r4`).value(JSON.stringify(record))
  for (const r of rs) {
    await waitUntil(
      `${r.id} rolled back`,
      async () => {
        const s = await r.state()
        return s.split.y === 0 && s.locked
      },
      8000,
      20,
    )
  }
  const s = await rs[2].state()
  t.match(s.lock_reason, /over the fleet's traffic \(4 replicas\)/, `lock reason: ${s.lock_reason}`)
  for (const r of rs) t.equal((await r.state()).gates.y.requests, 0, `${r.id} itself saw no failing y traffic`)
})

t.test('a rollout survives the death of its leader: the next leader goes on at the stored step, hold afresh', { skip }, async (t) => {
  const rs = await bed.fleet(t, bed.options(bed.yOk, 'gates: { min_requests: 5, window: 10s }'))
  // the hold only has to outlast the moment between the start and the kill (one API call):
  // once the leader is dead nothing moves until the next one leads, and it holds afresh
  const start = await rs[0].api('POST', '/v1/rollout', {
    steps: [
      { y: 20, hold: '1s' },
      { y: 100, hold: '0s' },
    ],
  })
  t.equal(start.status, 200, `rollout started: ${start.body.error ?? 'ok'}`)
  const leader = await leaderOf(rs)
  const others = rs.filter((r) => r !== leader)
  // traffic for the step's sample, through the replicas that live on
  const load = (async () => {
    while ((await others[0].state()).rollout !== null) await Promise.all(others.map((r) => through(r)))
  })()
  leader.child.kill('SIGKILL')
  await leader.exited
  const killedAt = performance.now()
  const next = await waitUntil(
    'another replica leads',
    async () => {
      const s = await others[0].state()
      return s.fleet.leader !== null && s.fleet.leader !== leader.id ? s : undefined
    },
    6000,
    20,
  )
  const tookOver = performance.now() - killedAt
  t.ok(tookOver < 2000 + 1500, `a new leader within the lease TTL (2 s): ${Math.round(tookOver)} ms`)
  t.equal(next.split.y, 20, 'the change of leader moved nothing')
  t.match(next.rollout, { step: 0, status: 'running' })
  for (const r of others) {
    await waitUntil(
      `${r.id}: rollout done at y 100`,
      async () => {
        const s = await r.state()
        return s.rollout === null && s.split.y === 100
      },
      15_000,
      50,
    )
  }
  await load
  // events travel apart from the state: wait for them
  const events = await waitUntil(
    "the takeover and the end in every replica's events",
    async () => {
      const all = await Promise.all(others.map(async (r) => (await r.api('GET', '/v1/events?limit=1000')).body as Array<Record<string, unknown>>))
      return all.every((list) => list.some((e) => e.type === 'rollout.done')) ? all[0] : undefined
    },
    5000,
    20,
  )
  t.ok(
    events.some((e) => e.type === 'fleet.leader' && e.leading === true && /goes on at step 1 of 2/.test(String(e.reason))),
    'the new leader said it took the rollout over',
  )
  t.ok(
    events.some((e) => e.type === 'rollout.done'),
    'and finished it',
  )
})
