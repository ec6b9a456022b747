import t from 'tap'
import { stickyBucket, stickyBucketOf } from '../../src/routing/sticky.js'

t.test('a bucket is in 0..9999 and stable', async (t) => {
  t.equal(stickyBucket('consumer-42'), stickyBucket('consumer-42'))
  // FNV-1a 32 of "a" is 0xe40c292c = 3826002220
  t.equal(stickyBucket('a'), 3826002220 % 10000)
  t.equal(stickyBucket(''), 0x811c9dc5 % 10000)
  for (const k of ['', 'x', 'héllo', '日本語', 'a'.repeat(1000)]) {
    const b = stickyBucket(k)
    t.ok(Number.isInteger(b) && b >= 0 && b < 10000, k.slice(0, 10))
  }
})

t.test('a slice hashes like the string it stands for', async (t) => {
  t.equal(stickyBucketOf('xxabcxx', 2, 5), stickyBucket('abc'))
})

t.test('keys spread evenly over the buckets', async (t) => {
  // 20,000 keys into 10 deciles: each within 10% ± 1.5 points
  const deciles = new Array(10).fill(0)
  for (let i = 0; i < 20000; i++) deciles[Math.floor(stickyBucket(`user-${i}`) / 1000)]++
  for (const d of deciles) t.ok(Math.abs(d / 20000 - 0.1) < 0.015, `decile share ${d / 20000}`)
})
