import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { isCutoverError } from '../../src/errors.js'
import { StateController, type StateStore } from '../../src/state/controller.js'
import { parseStateFile } from '../../src/state/store.js'
import { EventLog } from '../../src/state/events.js'
import type { LiveState } from '../../src/state/types.js'

const base: LiveState = { y: 10, locked: false, lock_reason: null, rollout: null }
const running: LiveState['rollout'] = {
  steps: [
    { y: 10, hold: 1000 },
    { y: 100, hold: 0 },
  ],
  step: 0,
  status: 'running',
  started_at: '2026-01-01T00:00:00.000Z',
}

/** A store that records what it saved; fail() makes the next saves reject; hold() delays them. */
class MemoryStore implements StateStore {
  saved: LiveState[] = []
  failing = false
  gate: Promise<void> | null = null
  async save(state: LiveState): Promise<void> {
    if (this.gate !== null) await this.gate
    if (this.failing) throw new Error('ENOSPC: no space left on device')
    this.saved.push(structuredClone(state))
  }
}

function setup(initial: LiveState = base) {
  const store = new MemoryStore()
  const events = new EventLog(new FakeClock())
  const controller = new StateController(initial, store, events)
  return { store, events, controller }
}

t.test('setSplit writes first, then applies, raises an event and tells listeners', async (t) => {
  const { store, events, controller } = setup()
  const seen: Array<[number, number]> = []
  controller.onChange((next, prev) => seen.push([next.y, prev.y]))
  const result = await controller.setSplit(25, 'api')
  t.equal(result.y, 25)
  t.equal(controller.current.y, 25)
  t.same(store.saved, [{ ...base, y: 25 }])
  t.same(seen, [[25, 10]], 'listener sees new and previous state')
  const [e] = events.since(0)
  t.match(e, { id: 1, type: 'split.changed', cause: 'api', from: 10, to: 25 })
  t.ok(Object.isFrozen(controller.current), 'the current state is frozen')
})

t.test('changes are serialised in call order, each seeing the one before', async (t) => {
  const { store, controller } = setup()
  let release!: () => void
  store.gate = new Promise((r) => (release = r))
  const order: number[] = []
  const ps = [30, 40, 50].map((y) => controller.setSplit(y, 'api').then((s) => order.push(s.y)))
  const rb = controller.rollback('stop', 'api').then((s) => order.push(s.y))
  t.equal(controller.current.y, 10, 'nothing applied before the write finished')
  release()
  await Promise.all([...ps, rb])
  t.same(order, [30, 40, 50, 0])
  t.same(
    store.saved.map((s) => s.y),
    [30, 40, 50, 0],
  )
})

t.test('a failed write changes nothing and raises no event; later changes still run', async (t) => {
  const { store, events, controller } = setup()
  let heard = 0
  controller.onChange(() => heard++)
  store.failing = true
  const err = await controller.setSplit(50, 'api').then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(isCutoverError(err, 'CUTOVER_ERR_STATE_WRITE'))
  t.match((err as Error).message, /ENOSPC/)
  t.same(controller.current, base)
  t.equal(events.lastId, 0)
  t.equal(heard, 0)
  const rbErr = await controller.rollback('x', 'gate').then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(isCutoverError(rbErr, 'CUTOVER_ERR_STATE_WRITE'))
  t.same(controller.current, base, 'a failed rollback leaves the state too')
  store.failing = false
  await controller.setSplit(50, 'api')
  t.equal(controller.current.y, 50, 'the queue is not stuck after a failure')
})

t.test('setSplit is refused while locked or while a rollout exists, except for the rollout itself', async (t) => {
  const locked = setup({ ...base, locked: true, lock_reason: 'gate tripped' })
  await t.rejects(locked.controller.setSplit(20, 'api'), { code: 'CUTOVER_ERR_LOCKED' })
  t.same(locked.store.saved, [], 'nothing written')
  t.equal(locked.events.lastId, 0)

  const rolling = setup({ ...base, rollout: running })
  await t.rejects(rolling.controller.setSplit(20, 'api'), { code: 'CUTOVER_ERR_ROLLOUT_RUNNING' })
  await t.rejects(rolling.controller.setSplit(20, 'gate'), { code: 'CUTOVER_ERR_ROLLOUT_RUNNING' })
  const s = await rolling.controller.setSplit(20, 'rollout', { step: 1 })
  t.equal(s.y, 20)
  t.match(rolling.events.since(0)[0], { type: 'split.changed', cause: 'rollout', step: 1 })
})

t.test('rollback sets y 0, locks, clears the rollout, and applies even when already locked', async (t) => {
  const { events, controller } = setup({ ...base, y: 40, rollout: running })
  await controller.rollback('error_rate 0.083 > 0.01 over 412 requests', 'gate')
  t.same(controller.current, { y: 0, locked: true, lock_reason: 'error_rate 0.083 > 0.01 over 412 requests', rollout: null })
  t.match(events.since(0)[0], { type: 'rollback', cause: 'gate', from: 40, to: 0, rollout_stopped: true })
  await controller.rollback('again', 'api')
  t.equal(controller.current.lock_reason, 'again')
  t.match(events.since(1)[0], { type: 'rollback', rollout_stopped: false })
  // a gate's reason names its check: a long one is cut so the state file still loads
  await controller.rollback(`gate: ${'q'.repeat(5000)}`, 'gate')
  const cut = controller.current.lock_reason ?? ''
  t.equal(cut.length, 4096)
  t.ok(cut.startsWith('gate: qqq') && cut.endsWith('…'))
  t.match(parseStateFile({ version: 1, updated_at: '2026-01-01T00:00:00.000Z', split: { y: 0 }, locked: true, lock_reason: cut, rollout: null }), { lock_reason: cut }, 'the cut reason loads back')
})

t.test('unlock clears the lock and keeps the split; a no-op when not locked', async (t) => {
  const { store, events, controller } = setup({ ...base, y: 0, locked: true, lock_reason: 'r' })
  await controller.unlock('api')
  t.same(controller.current, { ...base, y: 0 })
  t.match(events.since(0), [{ type: 'unlock', cause: 'api' }])
  const writes = store.saved.length
  const again = await controller.unlock('api')
  t.equal(again, controller.current, 'same state object')
  t.equal(store.saved.length, writes, 'no write')
  t.equal(events.lastId, 1, 'no event')
})

t.test('onChange returns an unsubscribe function', async (t) => {
  const { controller } = setup()
  let heard = 0
  const off = controller.onChange(() => heard++)
  await controller.setSplit(1, 'api')
  off()
  await controller.setSplit(2, 'api')
  t.equal(heard, 1)
})
