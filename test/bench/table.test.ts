import t from 'tap'
import { addHopLatency, addRatios, aggregate, formatGoals, formatTable, goals, median } from '../../bench/table.mjs'

const round = (rps: number, p99: number, extra: Record<string, unknown> = {}) => ({ rps, p50: 1, p99, cpuUsPerReq: 1e6 / rps, cpuPct: 90, peakRssMiB: 10, errors: 0, non2xx: 0, ...extra })

t.test('median of finite numbers, null when none', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([null, NaN, 5]), 5)
  t.equal(median([]), null)
})

t.test('aggregate: medians over rounds, the largest RSS, errors and non-2xx summed', async (t) => {
  const row = aggregate('small-get', 'nginx', 'wrk', [round(100, 9, { peakRssMiB: 12, errors: 1 }), round(300, 1, { peakRssMiB: 30, non2xx: 2 }), round(200, 5)])
  t.equal(row.rps, 200)
  t.equal(row.p99, 5)
  t.equal(row.peakRssMiB, 30)
  t.equal(row.errors, 3)
  t.equal(row.rounds, 3)
  t.equal(row.rssParts, null, 'no parts when the rounds did not read them')
})

t.test('the RSS parts are those of the round with the largest peak, and the goal line shows them', async (t) => {
  const parts = (rss: number, anon: number, file: number) => ({ peakRssMiB: rss, peakAnonMiB: anon, peakFileMiB: file })
  const rows = addRatios([
    aggregate('conns-1000', 'nginx', 'paced', [round(1000, 1, parts(15, 9, 6))]),
    aggregate('conns-1000', 'cutover', 'paced', [round(1000, 1, parts(90, 40, 50)), round(1000, 1, parts(97.5, 47, 50.5)), round(1000, 1, parts(93, 43, 50))]),
  ])
  t.same(rows[1].rssParts, { rssMiB: 97.5, ownMiB: 47, fileMiB: 50.5 })
  const line = formatGoals(goals(rows)).find((l: string) => l.includes('peak RSS'))
  t.match(line, /cutover 97\.5, nginx 15\.0 -> 6\.50x nginx  \[conns-1000, paced; cutover's largest sample 97\.5: own 47\.0 \+ file-backed 50\.5\]$/)
  t.notMatch(
    formatGoals(goals(rows)).find((l: string) => l.includes('small GET')),
    /largest sample/,
    'other goals carry no parts',
  )
})

t.test('ratios are to nginx in the same scenario and tool; nginx and direct rows get none', async (t) => {
  const rows = addRatios([
    aggregate('s', 'nginx', 'wrk', [round(1000, 2)]),
    aggregate('s', 'cutover', 'wrk', [round(250, 8)]),
    aggregate('s', 'cutover', 'autocannon', [round(500, 8)]),
    aggregate('s', 'direct', 'wrk', [round(5000, 1)]),
  ])
  t.equal(rows[1].ratio.rps, 0.25)
  t.equal(rows[1].ratio.p99, 4)
  t.equal(rows[0].ratio.rps, null, 'nginx against itself')
  t.equal(rows[2].ratio.rps, null, 'no nginx row with autocannon')
  t.equal(rows[3].ratio.rps, null, 'the direct baseline')
})

t.test('added hop latency is p50 minus the direct p50 of the same tool', async (t) => {
  const rows = addRatios(
    addHopLatency([
      aggregate('hop', 'direct', 'wrk', [{ ...round(1, 1), p50: 0.05 }]),
      aggregate('hop', 'nginx', 'wrk', [{ ...round(1, 1), p50: 0.15 }]),
      aggregate('hop', 'cutover', 'wrk', [{ ...round(1, 1), p50: 0.35 }]),
    ]),
  )
  t.equal(rows[0].added, null)
  t.ok(Math.abs(rows[1].added - 0.1) < 1e-9)
  t.ok(Math.abs(rows[2].added - 0.3) < 1e-9)
  t.ok(Math.abs(rows[2].ratio.added - 3) < 1e-9)
})

t.test('goals pick the small-GET throughput and CPU per request from wrk before autocannon', async (t) => {
  const rows = addRatios([
    aggregate('small-get', 'nginx', 'autocannon', [round(1000, 2)]),
    aggregate('small-get', 'cutover', 'autocannon', [round(100, 2)]),
    aggregate('small-get', 'nginx', 'wrk', [round(4000, 2)]),
    aggregate('small-get', 'cutover', 'wrk', [round(2000, 2)]),
  ])
  const g = goals(rows)
  t.equal(g.length, 8)
  t.match(g[0], { scenario: 'small-get', tool: 'wrk', cutover: 2000, nginx: 4000, ratio: 0.5 })
  t.match(g[1], { scenario: 'small-get', tool: 'wrk', metric: 'cpuUsPerReq' })
  t.match(g[5], { scenario: 'rate-p99', cutover: null, ratio: null })
  const text = formatGoals(g).join('\n')
  t.match(text, /0\.50x nginx/)
  t.match(text, /not measured/)
})

t.test('the table has a header, a rule and one line per row, ratios in parentheses', async (t) => {
  const rows = addRatios([aggregate('a', 'nginx', 'wrk', [round(1000, 2)]), aggregate('a', 'cutover', 'wrk', [round(500, 4)]), aggregate('b', 'nginx', 'wrk', [round(1000, 2)])])
  const lines = formatTable(rows)
  t.equal(lines.length, 2 + 3 + 1, 'a blank line between scenarios')
  t.match(lines[0], /^scenario\s+proxy\s+tool\s+req\/s/)
  t.match(lines[3], /500 \(0\.50x\)/)
  t.equal(lines[4], '')
})
