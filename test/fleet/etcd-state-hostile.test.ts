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

t.test('the state key deleted under a running fleet is written back: a replica starting next takes the rollback, not its split.y', { skip }, async (t) => {
  const prefix = freshPrefix()
  const a = await replica(prefix, 'a', { configY: 30 })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await a.controller.rollback('y failing', 'gate')
  await waitUntil('b rolled back', () => b.controller.current.locked, 5000, 5)
  await a.conn.client.delete().key(`${prefix}/state`)
  await waitUntil('the deletion is refused with an event', () => a.events.since(0).some((e) => e.type === 'state.invalid' && /deleted/.test(String(e.reason))), 5000, 5)
  const back = await waitUntil('the key written back', async () => (await stored(a, prefix))?.locked === true, 5000, 20)
  t.ok(back, 'the held state is in etcd again')
  t.match(await stored(a, prefix), { split: { y: 0 }, locked: true, lock_reason: 'y failing' })
  const c = await replica(prefix, 'c', { configY: 80 })
  t.teardown(() => c.close())
  t.match(c.controller.current, { y: 0, locked: true, lock_reason: 'y failing' }, 'a replica starting next takes the rollback')
  t.match(a.controller.current, { y: 0, locked: true }, 'a still rolled back')
  t.match(b.controller.current, { y: 0, locked: true }, 'b still rolled back')
  t.ok(
    [...a.events.since(0), ...b.events.since(0)].some((e) => e.type === 'state.restored'),
    'an event says who wrote it back',
  )
})

t.test('a watch etcd cancels (its revision compacted while the replica was cut off): the replica still follows every change', { skip }, async (t) => {
  const prefix = freshPrefix()
  const relay = await startHoldingRelay(cluster.endpoints[0])
  t.teardown(() => relay.close())
  const a = await replica(prefix, 'a', { endpoints: [relay.url] })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await b.controller.setSplit(5, 'api')
  await waitUntil('a at 5', () => a.controller.current.y === 5, 5000, 5)
  relay.cut()
  for (const y of [10, 20, 30]) await b.controller.setSplit(y, 'api')
  // etcd forgets the history a's watch would resume from
  const head = await b.conn.client.get(`${prefix}/state`).exec()
  await b.conn.client.kv.compact({ revision: head.header.revision, physical: true })
  relay.heal()
  await waitUntil('a catches up with 30', () => a.controller.current.y === 30, 10_000, 20)
  await b.controller.setSplit(77, 'api')
  await waitUntil('a follows the next change', () => a.controller.current.y === 77, 5000, 5)
  await b.controller.setSplit(78, 'api')
  await waitUntil('and the one after', () => a.controller.current.y === 78, 5000, 5)
})

t.test('etcd restarted on an empty data dir: the replicas write their state back, writes work again, changes propagate', { skip }, async (t) => {
  const prefix = freshPrefix()
  const a = await replica(prefix, 'a', { configY: 10 })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  // well past the revision a new etcd starts at
  for (let i = 0; i < 30; i++) await a.conn.client.put(`${prefix}/filler`).value(String(i))
  await a.controller.setSplit(40, 'api')
  await waitUntil('b at 40', () => b.controller.current.y === 40, 5000, 5)
  await cluster.members[0].wipe()
  await cluster.startAll()
  await waitUntil('the state written back to the empty etcd', async () => (await stored(a, prefix).catch(() => null))?.split?.y === 40, 10_000, 50)
  await waitUntil(
    'a write through a works again',
    () =>
      a.controller.setSplit(45, 'api').then(
        () => true,
        () => false,
      ),
    10_000,
    50,
  )
  await waitUntil('b follows', () => b.controller.current.y === 45, 5000, 5)
  await b.controller.setSplit(46, 'api')
  await waitUntil('a follows b', () => a.controller.current.y === 46, 5000, 5)
  const c = await replica(prefix, 'c', { configY: 90 })
  t.teardown(() => c.close())
  t.equal(c.controller.current.y, 46, 'a replica starting now takes the shared state')
})

t.test('etcd restarted empty: a replica cut off meanwhile takes the change made since, never writes its older state over it', { skip }, async (t) => {
  const prefix = freshPrefix()
  const relay = await startHoldingRelay(cluster.endpoints[0])
  t.teardown(() => relay.close())
  const a = await replica(prefix, 'a', { configY: 10 })
  const b = await replica(prefix, 'b', { endpoints: [relay.url] })
  t.teardown(() => Promise.all([a.close(), b.close()]))
  for (let i = 0; i < 30; i++) await a.conn.client.put(`${prefix}/filler`).value(String(i))
  await a.controller.setSplit(40, 'api')
  await waitUntil('b at 40', () => b.controller.current.y === 40, 5000, 5)
  relay.cut()
  await cluster.members[0].wipe()
  await cluster.startAll()
  await waitUntil('a writes its state back', async () => (await stored(a, prefix).catch(() => null))?.split?.y === 40, 10_000, 50)
  await waitUntil(
    'a moves the split on the new etcd',
    () =>
      a.controller.setSplit(45, 'api').then(
        () => true,
        () => false,
      ),
    10_000,
    50,
  )
  relay.heal()
  await waitUntil('b takes 45', () => b.controller.current.y === 45, 10_000, 20)
  t.equal((await stored(a, prefix)).split.y, 45, 'etcd still holds the change a made')
  t.equal(a.controller.current.y, 45, 'a too')
})

t.test("a write etcd does not answer is reported as unknown, never as 'nothing changed'; every replica ends where etcd is", { skip }, async (t) => {
  const prefix = freshPrefix()
  const relay = await startHoldingRelay(cluster.endpoints[0])
  t.teardown(() => relay.close())
  const a = await replica(prefix, 'a', { endpoints: [relay.url] })
  const b = await replica(prefix, 'b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  await a.controller.setSplit(60, 'api')
  await waitUntil('b at 60', () => b.controller.current.y === 60, 5000, 5)
  // no answer at all, to the write nor to the read after it: not known whether it was written
  relay.hold()
  const err = await a.controller.setSplit(61, 'api').catch((e: unknown) => e as Error)
  relay.release()
  t.match(err, { code: 'CUTOVER_ERR_STATE_BACKEND_DOWN' })
  t.match((err as Error).message, /may or may not have been written/, 'the answer does not claim nothing changed')
  t.notMatch((err as Error).message, /nothing changed/)
  // whether it landed depends on whether its bytes left before the deadline; either way every replica ends where etcd is
  await waitUntil(
    'a and b at what etcd holds',
    async () => {
      const y = (await stored(b, prefix)).split.y
      return (y === 60 || y === 61) && a.controller.current.y === y && b.controller.current.y === y
    },
    10_000,
    20,
  )
})
