import t from 'tap'
import { summarize } from '../../bench/rss-floor.mjs'

const m = (anonMiB: number, fileMiB: number) => ({ rssKiB: (anonMiB + fileMiB) * 1024, anonKiB: anonMiB * 1024, fileKiB: fileMiB * 1024 })

t.test('idle processes: RSS as own + file-backed', async (t) => {
  t.same(summarize([{ name: 'stack', idle: m(29.5, 51) }]), ['stack    idle 80.5 MiB (own 29.5 + file 51.0)'])
})

t.test('a relay through the sequence: its peak, and what the connections added to each part', async (t) => {
  const [line] = summarize([{ name: 'cutover', idle: m(32, 50.25), peak: m(47.25, 50.5) }])
  t.equal(line, 'cutover  idle 82.3 MiB (own 32.0 + file 50.3); peak 97.8 MiB (own 47.3 + file 50.5): the connections added own 15.3, file 0.3')
})
