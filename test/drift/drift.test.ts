import t from 'tap'
import { driftKey, findDrifts, knownHash, type NodeHash, NO_CONFIG_HASH, startRefusal } from '../../src/drift/drift.js'

const A = 'a'.repeat(32)
const B = 'b'.repeat(32)
const n = (pool: 'x' | 'y', node: string, hash: string | null): NodeHash => ({ pool, node, hash })

t.test('a pool whose nodes disagree, a node whose hash changes: drifts only while watching', async (t) => {
  const before = [n('x', 'x1', A), n('x', 'x2', A), n('y', 'y1', A)]
  const after = [n('x', 'x1', A), n('x', 'x2', B), n('y', 'y1', A)]
  t.same(findDrifts(before, after, false), [], 'outside a rollout a config push is no drift')
  const drifts = findDrifts(before, after, true)
  t.same(
    drifts.map((d) => d.kind),
    ['pool_disagrees', 'hash_changed'],
  )
  t.match(drifts[0].reason, /pool x serve different configs \(x1 aaaaaaaaaaaa, x2 bbbbbbbbbbbb\)/)
  t.match(drifts[1].reason, /node x2 of pool x changed its config during the upgrade \(aaaaaaaaaaaa -> bbbbbbbbbbbb\)/)
  t.not(driftKey(drifts[0]), driftKey(drifts[1]))
  t.same(
    findDrifts(after, after, true).map((d) => d.kind),
    ['pool_disagrees'],
    'a disagreement persists; a change is said once',
  )
  t.same(findDrifts([n('x', 'x1', null)], [n('x', 'x1', A)], true), [], 'a first reading is no change')
})

t.test('hashes: all zeros (no config) and garbage are unknown', async (t) => {
  t.equal(knownHash(NO_CONFIG_HASH), null)
  t.equal(knownHash('<script>'), null)
  t.equal(knownHash(42), null)
  t.equal(knownHash(A.toUpperCase()), A)
})

t.test('a start is refused while x and y serve different configs, with the hashes', async (t) => {
  t.equal(startRefusal([n('x', 'x1', A), n('y', 'y1', A)]), null)
  t.equal(startRefusal([n('x', 'x1', A), n('y', 'y1', null)]), null, 'unknown: not refused')
  t.match(startRefusal([n('x', 'x1', A), n('y', 'y1', B)]), `x configuration_hash ${A}, y ${B}`)
  t.match(startRefusal([n('x', 'x1', A), n('x', 'x2', B), n('y', 'y1', A)]), /x configuration_hash/)
})
