/**
 * A replica's view of the fleet under hostile records and a canceled watch (a real
 * one-member etcd, Fleet instances in this process): a record whose id is not the replica
 * its key names is refused, and a replica whose record went while the watch was away
 * (etcd compacted the history it resumes from) is no longer counted.
 */

import t from 'tap'
import { Etcd3 } from 'etcd3'
import pino from 'pino'
import { type Clock, systemClock } from '../../src/clock.js'
import { EtcdConnection } from '../../src/fleet/etcd-connection.js'
import { Fleet } from '../../src/fleet/fleet.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import { etcdAvailable, startEtcdCluster, startHoldingRelay, type EtcdCluster } from '../helpers/etcd.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { testGates } from '../helpers/fixtures.js'
import { waitUntil } from '../helpers/wait.js'

const skip = !etcdAvailable() ? 'etcd is not installed (Debian: etcd-server)' : false
const logger = pino({ level: 'silent' })
let cluster: EtcdCluster
let n = 0

t.before(async () => {
  if (skip) return
  cluster = await startEtcdCluster(1)
})
t.teardown(async () => {
  if (skip) return
  await cluster.stop()
})

async function member(prefix: string, id: string, endpoints = cluster.endpoints, clock: Clock = systemClock) {
  const conn = new EtcdConnection({ endpoints, prefix, lease_ttl: 2000 }, clock, logger)
  const events = new EventLog(clock)
  const state = new StateController({ y: 0, locked: false, lock_reason: null, rollout: null }, { save: async () => {} }, events)
  const fleet = new Fleet({ conn, replicaId: id, ttlSeconds: 2, gates: testGates(), state, events, clock, logger, takeOverRollout: () => {} })
  await fleet.start({ host: '127.0.0.1', port: 1 })
  return {
    conn,
    fleet,
    events,
    ids: () =>
      fleet
        .describe()
        .replicas.map((r) => r.id)
        .sort(),
    async stop(revoke = true) {
      await fleet.stop({ revoke })
      conn.close()
    },
  }
}

function freshPrefix(): string {
  return `/cutover/fleet-hostile-${process.pid}-${++n}`
}

t.test('a record claiming another replica id than its key names is refused, never counted', { skip }, async (t) => {
  const prefix = freshPrefix()
  const a = await member(prefix, 'a')
  t.teardown(() => a.stop())
  const spoof = {
    v: 1,
    id: 'b',
    control: '127.0.0.1:9',
    started_at: new Date().toISOString(),
    totals: { x: { requests: 0, errors: 0 }, y: { requests: 500, errors: 500 } },
    buckets: [{ t: Math.floor(Date.now() / 1000), x: { r: 0, e: 0, h: [] }, y: { r: 500, e: 500, h: [] } }],
  }
  await a.conn.client.put(`${prefix}/replicas/ghost`).value(JSON.stringify(spoof))
  const e = await waitUntil('the record refused with an event', () => a.events.since(0).find((x) => x.type === 'fleet.invalid'), 5000, 5)
  t.match(e.reason, /not the replica its key names/)
  t.same(a.ids(), ['a'], 'b is not counted from a key that is not its own')
  t.equal(a.fleet.describe().gates.y.requests, 0, 'nor its traffic')
})

t.test('a replica gone while the watch was away (history compacted) is no longer counted', { skip }, async (t) => {
  const prefix = freshPrefix()
  const relay = await startHoldingRelay(cluster.endpoints[0])
  t.teardown(() => relay.close())
  const a = await member(prefix, 'a', [relay.url])
  const b = await member(prefix, 'b')
  t.teardown(() => a.stop())
  await waitUntil('a sees b', () => a.ids().length === 2, 5000, 10)
  relay.cut()
  await b.stop(true)
  // etcd forgets the history a's watch would resume from (b's record deleted with its lease)
  const direct = new Etcd3({ hosts: cluster.endpoints })
  t.teardown(() => direct.close())
  const head = await direct.get(`${prefix}/none`).exec()
  await direct.kv.compact({ revision: head.header.revision, physical: true })
  relay.heal()
  await waitUntil('a counts b no more', () => a.ids().length === 1, 10_000, 20)
  t.same(a.ids(), ['a'])
})

t.test("a replica whose clock is minutes off: its traffic is counted in the fleet's window all the same", { skip }, async (t) => {
  const prefix = freshPrefix()
  // b's clock is 3 minutes behind a's: beyond the 60 s window
  const late: Clock = { ...systemClock, now: () => Date.now() - 180_000 }
  const a = await member(prefix, 'a')
  const b = await member(prefix, 'b', cluster.endpoints, late)
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  await waitUntil('a sees b', () => a.ids().length === 2, 5000, 10)
  const y = { pool: 'y', name: 'y1' } as UpstreamNode
  for (let i = 0; i < 40; i++) b.fleet.recorder.answered(y, 500, 5)
  const seen = await waitUntil("a counts b's y requests", () => a.fleet.describe().gates.y.requests || undefined, 5000, 20)
  t.equal(seen, 40, "all of b's requests, once")
  t.equal(a.fleet.describe().gates.y.errors, 40)
})

t.test('a huge value under the shared events is refused with an event, never kept; the next event is taken', { skip }, async (t) => {
  const prefix = freshPrefix()
  const a = await member(prefix, 'a')
  t.teardown(() => a.stop())
  const huge = JSON.stringify({ id: 1, at: new Date().toISOString(), type: 'rollback', replica: 'evil', reason: 'x'.repeat(1_000_000) })
  await a.conn.client.put(`${prefix}/events/00000000000001-evil-00000001`).value(huge)
  await a.conn.client.put(`${prefix}/events/00000000000002-b-00000001`).value(JSON.stringify({ id: 1, at: new Date().toISOString(), type: 'unlock', replica: 'b', cause: 'api' }))
  await waitUntil('the next event taken', () => a.events.since(0).some((e) => e.type === 'unlock' && e.replica === 'b'), 5000, 10)
  t.notOk(
    a.events.since(0).some((e) => e.type === 'rollback'),
    'the huge one is not in the log',
  )
  const refused = a.events.since(0).find((e) => e.type === 'fleet.invalid')
  t.match(refused?.reason, /refused a shared event: \d+ bytes/)
})
