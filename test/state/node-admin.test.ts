import t from 'tap'
import { isCutoverError } from '../../src/errors.js'
import { adminStateOf, changeNode, effectiveWeight, nodeChangeDetails, parseNodeAdminState, type NodeChangeContext } from '../../src/state/node-admin.js'
import { parseStateFile } from '../../src/state/store.js'
import type { LiveState } from '../../src/state/types.js'

const base: LiveState = { y: 10, locked: false, lock_reason: null, rollout: null }
const at = '2026-11-29T02:00:00.000Z'
const ctx = (over: Partial<NodeChangeContext> = {}): NodeChangeContext => ({ at, poolServes: true, usableNow: true, othersUsable: 1, ...over })

t.test('drain, maint, ready and a runtime weight are kept per pool and node; ready at the config weight leaves nothing', async (t) => {
  const drained = changeNode(base, 'y', 'kong-y1', { admin: 'drain' }, ctx())
  t.ok(drained)
  t.same(drained?.nodes, { y: { 'kong-y1': { admin: 'drain', weight: null, at } } })
  t.equal(adminStateOf(drained!, 'y', 'kong-y1'), 'drain')
  t.equal(adminStateOf(drained!, 'x', 'kong-y1'), 'ready', 'the same name in the other pool is another node')
  const weighted = changeNode(drained!, 'y', 'kong-y1', { weight: 3 }, ctx())
  t.same(weighted?.nodes?.y?.['kong-y1'], { admin: 'drain', weight: 3, at }, 'a weight change keeps the admin state')
  t.equal(effectiveWeight(weighted!, 'y', 'kong-y1', 1), 3)
  const ready = changeNode(weighted!, 'y', 'kong-y1', { admin: 'ready' }, ctx())
  t.same(ready?.nodes?.y?.['kong-y1'], { admin: 'ready', weight: 3, at }, 'ready ends drain; the runtime weight stays until reset')
  const reset = changeNode(ready!, 'y', 'kong-y1', { weight: null }, ctx())
  t.equal(reset?.nodes, undefined, 'nothing left: no nodes key at all')
  t.equal(effectiveWeight(reset!, 'y', 'kong-y1', 2), 2)
  t.equal(changeNode(base, 'y', 'kong-y1', { admin: 'ready' }, ctx()), null, 'no change, no event')
  t.equal(base.nodes, undefined, 'the old state is not touched')
})

t.test('the last usable node of a serving pool leaves traffic only with force', async (t) => {
  for (const admin of ['drain', 'maint'] as const) {
    let err: unknown
    try {
      changeNode(base, 'y', 'kong-y1', { admin }, ctx({ othersUsable: 0 }))
    } catch (e) {
      err = e
    }
    t.ok(isCutoverError(err, 'CUTOVER_ERR_LAST_NODE') && err.status === 409 && /force/.test(err.message), `${admin} refused: ${String(err)}`)
    t.ok(changeNode(base, 'y', 'kong-y1', { admin, force: true }, ctx({ othersUsable: 0 })), `${admin} with force`)
  }
  t.ok(changeNode(base, 'y', 'kong-y1', { admin: 'maint' }, ctx({ othersUsable: 0, poolServes: false })), 'a pool without traffic: no force needed')
  t.ok(changeNode(base, 'y', 'kong-y1', { admin: 'maint' }, ctx({ othersUsable: 0, usableNow: false })), 'a node that is not usable anyway: no force needed')
  const drained = changeNode(base, 'y', 'kong-y1', { admin: 'drain', force: true }, ctx({ othersUsable: 0 }))
  t.ok(changeNode(drained!, 'y', 'kong-y1', { admin: 'maint' }, ctx({ othersUsable: 0 })), 'drain to maint: it already takes no new requests')
})

t.test('event details say what was and what is, and where the weight comes from', async (t) => {
  const next = changeNode(base, 'x', 'a', { admin: 'maint', weight: 4 }, ctx())!
  t.same(nodeChangeDetails(base, next, 'x', 'a', 1), { pool: 'x', node: 'a', from: 'ready', to: 'maint', weight_from: 1, weight_to: 4, weight_source: 'runtime' })
})

t.test('the state file keeps node changes; a bad entry names its field', async (t) => {
  const file = { version: 1, updated_at: at, split: { y: 5 }, locked: false, lock_reason: null, rollout: null, nodes: { y: { b: { admin: 'maint', weight: null, at } } } }
  const parsed = parseStateFile(file)
  t.same(typeof parsed === 'string' ? parsed : parsed.nodes, { y: { b: { admin: 'maint', weight: null, at } } })
  t.equal(typeof parseStateFile({ ...file, nodes: undefined }) === 'object', true, 'older files without nodes still load')
  t.equal(parseNodeAdminState({ z: {} }), 'nodes.z: not a pool (x or y)')
  t.equal(parseNodeAdminState({ y: { b: { admin: 'off', weight: null, at } } }), 'nodes.y.b.admin: not ready, drain or maint')
  t.equal(parseNodeAdminState({ y: { b: { admin: 'drain', weight: 0, at } } }), 'nodes.y.b.weight: not null or a number above 0 and at most 1000')
  t.equal(parseNodeAdminState({ y: { b: { admin: 'drain', weight: 2, at: 'yesterday' } } }), 'nodes.y.b.at: not an ISO time')
  t.match(parseStateFile({ ...file, nodes: [] }), /^nodes: not an object/)
})
