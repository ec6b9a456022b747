/**
 * Concurrent writes through two replicas' control APIs (issue 11): both change the split
 * from the same revision; exactly one is written (200), the other answers 409
 * CUTOVER_ERR_STATE_CONFLICT with nothing changed, and both replicas end at the winner's
 * state: no lost update. Real etcd, two real cutover processes.
 *
 * "At the same time" is made exact rather than left to the scheduler: r2 reaches etcd
 * through a relay that holds etcd's answers back, so r2 cannot learn of r1's write before
 * its own compare-and-swap has gone out, on the revision both started from.
 */

import t from 'tap'
import { type HoldingRelay, startHoldingRelay } from '../helpers/etcd.js'
import { fleetSkip, fleetTestbed, type Replica, startReplica, stopAll } from '../helpers/fleet.js'
import { waitUntil } from '../helpers/wait.js'

const skip = fleetSkip
const bed = fleetTestbed(t, 1)

t.test('two replicas change the split from the same revision: one 200, one 409, the winner everywhere', { skip }, async (t) => {
  const o = bed.options(bed.yOk)
  const relay: HoldingRelay = await startHoldingRelay(bed.cluster.endpoints[0])
  t.teardown(() => relay.close())
  const r1 = await startReplica(o, 'r1')
  const r2 = await startReplica({ ...o, endpoints: [relay.url] }, 'r2')
  const rs: Replica[] = [r1, r2]
  t.teardown(() => stopAll(rs))
  await waitUntil('both replicas see each other', async () => (await Promise.all(rs.map((r) => r.state()))).every((s) => s.fleet?.replicas?.length === 2), 10_000, 20)
  t.equal((await r1.state()).split.y, 0)

  // r2's CAS names the state key; once it has gone out on the old revision, let etcd's answers through
  relay.hold()
  const r2Sent = relay.sent(`${o.prefix}/state`)
  const first = await r1.api('PUT', '/v1/split', { y: 30 })
  const secondPending = r2.api('PUT', '/v1/split', { y: 70 })
  await Promise.race([r2Sent, new Promise((_, reject) => setTimeout(() => reject(new Error("r2's write never reached etcd")), 10_000).unref())])
  relay.release()
  const second = await secondPending

  t.equal(first.status, 200, 'r1 wrote first')
  t.equal(second.status, 409, 'r2 wrote on the revision r1 had replaced')
  t.equal(second.body.code, 'CUTOVER_ERR_STATE_CONFLICT')
  for (const r of rs) await waitUntil(`${r.id} at the winner's split`, async () => (await r.state()).split.y === 30, 5000, 10)
  t.same(
    (await Promise.all(rs.map((r) => r.state()))).map((s) => s.split),
    [
      { x: 70, y: 30 },
      { x: 70, y: 30 },
    ],
    "the winner's state on both, the loser's change nowhere",
  )
  // the loser reads again and retries: now it is written, on the fresh revision
  t.equal((await r2.api('PUT', '/v1/split', { y: 70 })).status, 200)
  for (const r of rs) await waitUntil(`${r.id} at 70`, async () => (await r.state()).split.y === 70, 5000, 10)
})
