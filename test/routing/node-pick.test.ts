import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { pickNode } from '../../src/routing/node-pick.js'
import { buildNodeSet } from '../../src/routing/table.js'
import { node } from '../forwarding/fixtures.js'

const a = node('x', 1, 1)
const b = node('x', 2, 2)
const c = node('x', 3, 1)
t.teardown(() => Promise.all([a, b, c].map((n) => n.dispatcher.close())))
const set = buildNodeSet([a, b, c], () => true)

t.test('idle nodes share by weight', async (t) => {
  // tolerance: ±2 points over 8,000 picks; expected 25% / 50% / 25%
  const random = seededRandom(5)
  const counts = new Map<unknown, number>()
  for (let i = 0; i < 8000; i++) {
    const n = pickNode(set, random)!
    counts.set(n, (counts.get(n) ?? 0) + 1)
  }
  t.ok(Math.abs(counts.get(a)! / 8000 - 0.25) < 0.02, `a ${counts.get(a)! / 8000}`)
  t.ok(Math.abs(counts.get(b)! / 8000 - 0.5) < 0.02, `b ${counts.get(b)! / 8000}`)
  t.ok(Math.abs(counts.get(c)! / 8000 - 0.25) < 0.02, `c ${counts.get(c)! / 8000}`)
})

t.test('a busy node gets less', async (t) => {
  const random = seededRandom(9)
  b.inflight = 50
  let onB = 0
  for (let i = 0; i < 4000; i++) if (pickNode(set, random) === b) onB++
  b.inflight = 0
  // b is picked only when both draws land on it: 0.5² = 25%, ±3 points
  t.ok(Math.abs(onB / 4000 - 0.25) < 0.03, `b ${onB / 4000}`)
})

t.test('excluded nodes are never picked', async (t) => {
  const random = seededRandom(13)
  let wrong = 0
  for (let i = 0; i < 500; i++) {
    if (pickNode(set, random, b) === b) wrong++
    if (pickNode(set, random, [a, b]) !== c) wrong++
  }
  t.equal(wrong, 0)
  t.equal(pickNode(set, random, [a, b, c]), undefined)
  t.equal(
    pickNode(
      buildNodeSet([], () => true),
      random,
    ),
    undefined,
  )
  const one = buildNodeSet([a], () => true)
  t.equal(pickNode(one, random), a)
  t.equal(pickNode(one, random, a), undefined)
})

t.test('weights of 0 and unusable nodes are left out of the set', async (t) => {
  const z = node('x', 4, 0)
  t.teardown(() => z.dispatcher.close())
  const s = buildNodeSet([a, z, c], (n) => n !== c)
  t.same(s.nodes, [a])
})
