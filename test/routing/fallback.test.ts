import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { firstNode, isIdempotent, isRetryable, nextNode, type Failure, type PoolsState } from '../../src/routing/fallback.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import type { UpstreamNode } from '../../src/upstream/node.js'
import { node } from '../forwarding/fixtures.js'

const x1 = node('x', 1)
const x2 = node('x', 2)
const y1 = node('y', 3)
const y2 = node('y', 4, 3)
const all = { x: [x1, x2], y: [y1, y2] }
t.teardown(() => Promise.all([x1, x2, y1, y2].map((n) => n.dispatcher.close())))

function state(usable: (n: UpstreamNode) => boolean = () => true, retries = 2): PoolsState {
  return { table: buildRoutingTable(50, all, usable, { y: 50 }), all, retries, random: seededRandom(3) }
}

function failure(over: Partial<Failure>): Failure {
  const failed = over.failed ?? x1
  return { failed, kind: 'connect', attempts: 1, tried: [failed], idempotent: true, bodySent: false, ...over }
}

t.test('which failures may be retried', async (t) => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) t.ok(isIdempotent(m), m)
  for (const m of ['POST', 'PATCH', 'PURGE', undefined]) t.notOk(isIdempotent(m), String(m))
  t.ok(isRetryable('connect', false, true), 'a refused POST is retried')
  t.ok(isRetryable('reset', true, false))
  t.notOk(isRetryable('reset', false, false), 'a reset POST is not')
  t.notOk(isRetryable('reset', true, true), 'nor a PUT whose body was sent')
  t.notOk(isRetryable('timeout', true, false))
  t.notOk(isRetryable('protocol', true, false))
  t.equal(nextNode(failure({ kind: 'timeout' }), state()), undefined)
  t.equal(nextNode(failure({ kind: 'reset', idempotent: false }), state()), undefined)
})

t.test('retries stop after proxy.retries extra attempts', async (t) => {
  t.ok(nextNode(failure({ attempts: 2, tried: [x1, x2] }), state(undefined, 2)))
  t.equal(nextNode(failure({ attempts: 3, tried: [x1, x2, y1] }), state(undefined, 2)), undefined)
  t.equal(nextNode(failure({ attempts: 1 }), state(undefined, 0)), undefined, 'retries: 0')
})

t.test('the same pool first, then the other', async (t) => {
  t.equal(nextNode(failure({ kind: 'reset' }), state()), x2, 'reset: the other x node')
  t.equal(nextNode(failure({ kind: 'connect' }), state()), x2, 'connect: the other x node')
  t.equal(nextNode(failure({ attempts: 1, tried: [x1, x2], failed: x2, kind: 'reset' }), state())!.pool, 'y', 'x exhausted: y')
})

t.test('the last retry tries the other pool first, after a refused connect or a reset', async (t) => {
  const next = nextNode(failure({ kind: 'connect', attempts: 2, tried: [x1] }), state(undefined, 2))
  t.equal(next!.pool, 'y')
  const reset = nextNode(failure({ kind: 'reset', attempts: 2, tried: [x1] }), state(undefined, 2))
  t.equal(reset!.pool, 'y')
  const early = nextNode(failure({ kind: 'reset', attempts: 1, tried: [x1] }), state(undefined, 2))
  t.equal(early, x2, 'an earlier retry stays in the pool')
})

t.test('last resort: an unusable node when every usable one failed, least loaded per weight', async (t) => {
  const onlyX1 = state((n) => n === x1, 3)
  y1.inflight = 2
  y2.inflight = 3 // 1 per unit of weight: less loaded than y1
  const next = nextNode(failure({ tried: [x1] }), onlyX1)
  t.equal(next, x2, 'an unusable node of the same pool first')
  t.equal(nextNode(failure({ tried: [x1, x2], attempts: 2 }), onlyX1), y2, 'then the other pool, by load per weight')
  t.equal(nextNode(failure({ tried: [x1, x2, y1, y2], attempts: 3 }), onlyX1), undefined, 'none left')
  t.equal(nextNode(failure({ tried: [x1] }), { ...onlyX1, all: undefined }), undefined, 'without the node list, no last resort')
  y1.inflight = 0
  y2.inflight = 0
})

t.test('first choice falls over to the other pool', async (t) => {
  const s = state((n) => n.pool === 'y')
  t.equal(firstNode(s.table, 'x', s.random)!.pool, 'y')
  t.equal(firstNode(s.table, 'x', s.random, [y1, y2]), undefined)
})
