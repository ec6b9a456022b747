// The node connections' read buffers: a buffer lent to a client socket whose queue still
// holds its bytes is never handed out again (the next read would overwrite bytes not yet
// written); once the queue is empty it is, instead of a new allocation.
import t from 'tap'
import { ReadBuffers, ReadSlot } from '../../src/upstream/read-buffers.js'

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

// ReadSlot: the buffer one socket reads into, reused from read to read unless the last
// chunk is still in use (kept by the user, or queued by the socket it was written to).
t.test('a slot reads into the same buffer while nothing keeps its chunks', async (t) => {
  const slot = new ReadSlot(0, new ReadBuffers(1024))
  t.equal(slot.size, 0, 'no buffer before the first read')
  const a = slot.next()
  t.equal(a.length, 1024)
  slot.read(1024)
  t.equal(slot.next(), a, 'the same buffer for the next read')
  const drained = holder(0)
  slot.lend(drained)
  t.equal(slot.next(), a, 'lent to a socket that wrote everything at once: still free')
})

t.test('a slot lent to a socket that queues its bytes reads into another until that queue is empty', async (t) => {
  const set = new ReadBuffers(1024)
  const slot = new ReadSlot(0, set)
  const a = slot.next()
  const node = holder(500)
  slot.lend(node)
  const b = slot.next()
  t.not(b, a, 'the queued bytes are not overwritten by the next read')
  t.equal(set.lent, 1)
  t.not(set.take(), a, 'nor handed to another socket')
  node.writableLength = 0
  t.equal(set.take(), a, 'free again once the queue is empty')
})

t.test('a retained chunk is left to its user, and a destroyed holder keeps its buffer for ever', async (t) => {
  const set = new ReadBuffers(1024)
  const slot = new ReadSlot(0, set)
  const a = slot.next()
  slot.retain()
  const b = slot.next()
  t.not(b, a)
  t.equal(set.lent, 0, 'a retained buffer never returns to the set')
  slot.lend(holder(0, true))
  t.not(slot.next(), b)
  t.equal(set.lent, 0, 'nor one whose holder was destroyed')
})

t.test('release gives the buffer back to the set, once its holder has written it', async (t) => {
  const set = new ReadBuffers(1024)
  const slot = new ReadSlot(0, set)
  const a = slot.next()
  slot.release()
  t.equal(slot.size, 0)
  t.equal(set.take(), a, 'free for another socket')
  const slot2 = new ReadSlot(0, set)
  const b = slot2.next()
  const node = holder(10)
  slot2.lend(node)
  slot2.release()
  t.not(set.take(), b, 'not while the node socket queues its bytes')
  node.writableLength = 0
  t.equal(set.take(), b)
})

t.test('first: small buffers of the slot own until a read fills one, then the set', async (t) => {
  const set = new ReadBuffers(1024)
  const slot = new ReadSlot(64, set)
  const small = slot.next()
  t.equal(small.length, 64)
  slot.read(10)
  t.equal(slot.next(), small, 'a read that did not fill it keeps it')
  slot.read(64)
  const big = slot.next()
  t.equal(big.length, 1024, 'outgrown')
  slot.release()
  t.equal(set.take(), big)
  const fresh = new ReadSlot(64, set)
  fresh.next()
  fresh.release()
  t.equal(set.lent, 0, 'a small buffer never goes to the set')
})
