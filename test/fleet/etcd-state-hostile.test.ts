/**
 * The shared state under races and broken etcd (a real one-member etcd): a rollback that
 * meets a change it had not seen is made again on that change without undoing it, and
 * the same for a rollback made while etcd was away and written when it is back.
 */

import t from 'tap'
import pino from 'pino'
import { systemClock } from '../../src/clock.js'
import { EtcdConnection } from '../../src/fleet/etcd-connection.js'
import { EtcdStateStore } from '../../src/fleet/etcd-state-store.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import type { LiveState } from '../../src/state/types.js'
import { etcdAvailable, startEtcdCluster, startHoldingRelay, type EtcdCluster } from '../helpers/etcd.js'
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

interface Replica {
  conn: EtcdConnection
  store: EtcdStateStore
  controller: StateController
  events: EventLog
  close(): Promise<void>
}

/** A replica of the shared state; `watch: false` leaves it unattached (it learns of others' changes only by its own writes). */
async function replica(prefix: string, id: string, o: { endpoints?: string[]; configY?: number; watch?: boolean } = {}): Promise<Replica> {
  const conn = new EtcdConnection({ endpoints: o.endpoints ?? cluster.endpoints, prefix, lease_ttl: 2000 }, systemClock, logger)
  const events = new EventLog(systemClock)
  const store = new EtcdStateStore({ conn, replicaId: id, clock: systemClock, logger, events })
  const { state, event } = await store.initial(o.configY ?? 0)
  const controller = new StateController(state, store, events)
  events.add(event[0], event[1])
  if (o.watch !== false) await store.attach(controller)
  return {
    conn,
    store,
    controller,
    events,
    async close() {
      await store.close()
      conn.close()
    },
  }
}

function freshPrefix(): string {
  return `/cutover/hostile-${process.pid}-${++n}`
}

async function stored(r: Replica, prefix: string): Promise<Record<string, unknown> & { split: { y: number }; nodes?: LiveState['nodes'] }> {
  return JSON.parse((await r.conn.client.get(`${prefix}/state`).string()) ?? 'null')
}

/** drain node n1 of pool y through a replica's controller */
function drain(r: Replica): Promise<unknown> {
  return r.controller.changeNode('y', 'n1', { admin: 'drain' }, 1, () => ({ at: new Date().toISOString(), poolServes: true, usableNow: true, othersUsable: 1 }), 'api')
}

t.test('a rollback that meets a node change it had not seen keeps the change', { skip }, async (t) => {
  const prefix = freshPrefix()
  const a = await replica(prefix, 'a', { configY: 30, watch: false })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await drain(b)
  t.equal((await stored(b, prefix)).nodes?.y?.n1?.admin, 'drain', 'b drained n1')
  // a still holds the revision before the drain: its compare-and-swap fails, and the rollback is made again
  await a.controller.rollback('y failing', 'gate')
  const s = await stored(a, prefix)
  t.match(s, { split: { y: 0 }, locked: true, lock_reason: 'y failing', rollout: null })
  t.equal(s.nodes?.y?.n1?.admin, 'drain', 'the drain b made is still in the shared state')
  t.equal(a.controller.current.nodes?.y?.n1?.admin, 'drain', 'and a holds it')
  await waitUntil('b at y 0, n1 still drained', () => b.controller.current.locked && b.controller.current.nodes?.y?.n1?.admin === 'drain', 5000, 5)
})

t.test('a rollback made while etcd was away is written without undoing a change made meanwhile', { skip }, async (t) => {
  const prefix = freshPrefix()
  const relay = await startHoldingRelay(cluster.endpoints[0])
  t.teardown(() => relay.close())
  const a = await replica(prefix, 'a', { endpoints: [relay.url], configY: 30 })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  relay.cut()
  await a.controller.rollback('y failing on a', 'gate')
  t.ok(a.store.pendingRollback, 'a rolled back alone: etcd did not answer it')
  await drain(b)
  relay.heal()
  await waitUntil(
    'a writes its rollback',
    async () => {
      await a.store.resync()
      return !a.store.pendingRollback
    },
    10_000,
    50,
  )
  const s = await stored(b, prefix)
  t.match(s, { split: { y: 0 }, locked: true, lock_reason: 'y failing on a' })
  t.equal(s.nodes?.y?.n1?.admin, 'drain', 'the drain b made while a was cut off is kept')
  await waitUntil('a holds the drain too', () => a.controller.current.nodes?.y?.n1?.admin === 'drain', 5000, 5)
  await waitUntil('b at y 0 with n1 drained', () => b.controller.current.locked && b.controller.current.nodes?.y?.n1?.admin === 'drain', 5000, 5)
})
