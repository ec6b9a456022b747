// The node connections' read buffers: a buffer lent to a client socket whose queue still
// holds its bytes is never handed out again (the next read would overwrite bytes not yet
// written); once the queue is empty it is, instead of a new allocation.
import t from 'tap'
import { ReadBuffers } from '../../src/upstream/read-buffers.js'

/** a stand-in client socket: what ReadBuffers reads of one */
function holder(writableLength: number, destroyed = false): { writableLength: number; destroyed: boolean } {
  return { writableLength, destroyed }
}

t.test('a buffer is not handed out while its holder still queues bytes', async (t) => {
  const buffers = new ReadBuffers(1024)
  const a = buffers.take()
  t.equal(a.length, 1024)
  const client = holder(100)
  buffers.lend(a, client)
  const b = buffers.take()
  t.not(b, a, 'a new buffer while the client queue holds part of the first')
  t.equal(buffers.lent, 1)
  client.writableLength = 0
  t.equal(buffers.take(), a, 'the first again once the queue is empty')
  t.equal(buffers.lent, 0)
  t.not(buffers.take(), a, 'handed out once only')
})

t.test('a destroyed holder never gives its buffer back', async (t) => {
  const buffers = new ReadBuffers(1024)
  const a = buffers.take()
  buffers.lend(a, holder(0, true))
  t.not(buffers.take(), a)
  t.equal(buffers.lent, 1)
})

t.test('the free one among several lent, and the oldest dropped past the cap', async (t) => {
  const buffers = new ReadBuffers(1024, 2)
  const busy = holder(10)
  const free = holder(10)
  const a = buffers.take()
  const b = buffers.take()
  buffers.lend(a, busy)
  buffers.lend(b, free)
  free.writableLength = 0
  t.equal(buffers.take(), b, 'the one whose holder has written everything')
  t.equal(buffers.lent, 1)
  const c = buffers.take()
  const d = buffers.take()
  buffers.lend(c, holder(1))
  buffers.lend(d, holder(1))
  t.equal(buffers.lent, 2, 'at most the cap')
  busy.writableLength = 0
  const e = buffers.take()
  t.not(e, a, 'the oldest was left to the GC')
  t.not(e, c)
  t.not(e, d)
})
