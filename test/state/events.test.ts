import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { EventLog } from '../../src/state/events.js'

t.test('events get growing ids and the clock time; since() returns newer ones oldest first', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1))
  const log = new EventLog(clock)
  log.add('a', { n: 1 })
  clock.advance(1500)
  log.add('b')
  t.same(log.since(0), [
    { n: 1, id: 1, at: '2026-01-01T00:00:00.000Z', type: 'a' },
    { id: 2, at: '2026-01-01T00:00:01.500Z', type: 'b' },
  ])
  t.same(
    log.since(1).map((e) => e.id),
    [2],
  )
  t.same(log.since(2), [])
  t.equal(log.lastId, 2)
})

t.test('details cannot override id, at or type', async (t) => {
  const log = new EventLog(new FakeClock())
  const e = log.add('real', { id: 99, type: 'fake', at: 'never' })
  t.equal(e.id, 1)
  t.equal(e.type, 'real')
  t.not(e.at, 'never')
})

t.test('the ring keeps the newest events up to its capacity; limit caps the answer', async (t) => {
  const log = new EventLog(new FakeClock(), 3)
  for (let i = 0; i < 5; i++) log.add('e')
  t.same(
    log.since(0).map((e) => e.id),
    [3, 4, 5],
  )
  t.same(
    log.since(0, 2).map((e) => e.id),
    [3, 4],
  )
})

t.test('subscribers hear each event; a throwing one does not break the caller', async (t) => {
  const log = new EventLog(new FakeClock())
  const heard: string[] = []
  log.subscribe(() => {
    throw new Error('boom')
  })
  const off = log.subscribe((e) => heard.push(e.type))
  log.add('one')
  off()
  log.add('two')
  t.same(heard, ['one'])
})
