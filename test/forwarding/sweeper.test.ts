// The deadline sweep runs after the I/O the event loop has ready: a process held off its
// core past a deadline reads the answers that came in time before it judges them.
import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { Sweeper } from '../../src/forwarding/sweeper.js'
import { answerThenHold } from '../helpers/hold.js'
import { node, startProxy } from './fixtures.js'

t.test('an answer that came before request_timeout, unread while the process was held off its core, is relayed, not a 504', async (t) => {
  // the node answers at once, then the process is held past request_timeout before cutover
  // reads that answer: the next turn of the event loop runs its due timers first
  const n = await answerThenHold(400)
  const p = await startProxy({ x: [node('x', n.port)], proxy: { request_timeout: 200 } })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const res = await fetch(`http://127.0.0.1:${p.port}/`)
  t.equal(n.held(), 1, 'the process was held once, after the node answered')
  t.equal(res.status, 200, 'the answer that came in time')
  t.equal(await res.text(), 'ok')
})

t.test('with a fake clock the sweep runs in the timer, at once', async (t) => {
  const clock = new FakeClock()
  const sweeper = new Sweeper(clock, 50)
  const swept: number[] = []
  sweeper.add({ sweep: (now) => void swept.push(now) })
  clock.advance(50)
  t.same(swept, [50])
  clock.advance(100)
  t.same(swept, [50, 100, 150], 'rescheduled every tick while an item is registered')
})
