import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import type { Config } from '../../src/config/types.js'
import { cookieBucket, pickPool } from '../../src/routing/pool-pick.js'
import { stickyBucket } from '../../src/routing/sticky.js'
import { buildRoutingTable } from '../../src/routing/table.js'

const empty = { x: [], y: [] }
const table = (y: number, split: Partial<Config['split']> = {}) => buildRoutingTable(y, empty, () => true, { y: 0, ...split })

t.test('random split is accurate at 0, 10, 50, 90, 100', async (t) => {
  // tolerance: ±2 percentage points over 5,000 picks; 0 and 100 exact
  const random = seededRandom(7)
  for (const y of [0, 10, 50, 90, 100]) {
    const tb = table(y)
    let ys = 0
    for (let i = 0; i < 5000; i++) if (pickPool(tb, {}, '10.0.0.1', random) === 'y') ys++
    const share = (ys / 5000) * 100
    if (y === 0 || y === 100) t.equal(share, y, `y=${y} exact`)
    else t.ok(Math.abs(share - y) <= 2, `y=${y}: got ${share}`)
  }
})

t.test('sticky keys only move toward the growing pool', async (t) => {
  for (const sticky of [{ header: 'X-Consumer-Id' }, { cookie: 'sid' }, { ip: true as const }]) {
    const at30 = table(30, { sticky })
    const at60 = table(60, { sticky })
    const random = seededRandom(1)
    let onY30 = 0
    let moved = 0
    let unstable = 0
    for (let i = 0; i < 2000; i++) {
      const key = `client-${i}`
      const headers = sticky.header ? { 'x-consumer-id': key } : sticky.cookie ? { cookie: `a=b; sid=${key}; c=d` } : {}
      const ip = `10.0.${i >> 8}.${i & 255}`
      const p30 = pickPool(at30, headers, ip, random)
      const p60 = pickPool(at60, headers, ip, random)
      if (p30 === 'y') {
        onY30++
        if (p60 !== 'y') moved++ // left y as y grew
      }
      if (p60 === 'x' && p30 !== 'x') moved++ // left x as y shrank
      // the same key always gets the same answer
      if (pickPool(at30, headers, ip, random) !== p30) unstable++
    }
    t.equal(moved, 0, `${JSON.stringify(sticky)}: no key moves against the change`)
    t.equal(unstable, 0, 'same key, same pool')
    // ±3 points over 2,000 keys
    t.ok(Math.abs(onY30 / 2000 - 0.3) < 0.03, `share at 30: ${onY30 / 2000}`)
  }
})

t.test('the override header beats the sticky key and the split', async (t) => {
  const random = seededRandom(3)
  const tb = table(50, { sticky: { header: 'x-consumer-id' }, override_header: 'x-cutover-pool' })
  // a key that sticks to x at 50%
  let key = 0
  while (stickyBucket(`k${key}`) < 5000) key++
  const headers = { 'x-consumer-id': `k${key}` }
  t.equal(pickPool(tb, headers, undefined, random), 'x')
  t.equal(pickPool(tb, { ...headers, 'x-cutover-pool': 'y' }, undefined, random), 'y')
  t.equal(pickPool(tb, { ...headers, 'x-cutover-pool': 'Y' }, undefined, random), 'y')
  t.equal(pickPool(table(0, { override_header: 'x-cutover-pool' }), { 'x-cutover-pool': 'y' }, undefined, random), 'y')
  t.equal(pickPool(table(100, { override_header: 'x-cutover-pool' }), { 'x-cutover-pool': 'X' }, undefined, random), 'x')
  // other values are ignored
  t.equal(pickPool(tb, { ...headers, 'x-cutover-pool': 'yes' }, undefined, random), 'x')
  t.equal(pickPool(tb, { ...headers, 'x-cutover-pool': 'z' }, undefined, random), 'x')
})

t.test('a request without the sticky key is split at random', async (t) => {
  const random = seededRandom(11)
  const tb = table(50, { sticky: { header: 'x-consumer-id' } })
  let ys = 0
  for (let i = 0; i < 4000; i++) if (pickPool(tb, {}, undefined, random) === 'y') ys++
  t.ok(Math.abs(ys / 4000 - 0.5) < 0.03, `share ${ys / 4000}`)
})

t.test('cookie values are found without slicing', async (t) => {
  t.equal(cookieBucket('sid=abc', 'sid'), stickyBucket('abc'))
  t.equal(cookieBucket('a=1; sid=abc; b=2', 'sid'), stickyBucket('abc'))
  t.equal(cookieBucket('a=1;sid="abc"', 'sid'), stickyBucket('abc'))
  t.equal(cookieBucket('xsid=abc; sidx=1', 'sid'), -1)
  t.equal(cookieBucket('sid=', 'sid'), -1)
  t.equal(cookieBucket('', 'sid'), -1)
})
