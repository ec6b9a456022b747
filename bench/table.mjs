// From measured rounds to the one table: medians over rounds, ratios to nginx in the same
// scenario with the same tool, the goals of issue 5, and plain-text formatting. Pure.

const METRICS = ['rps', 'p50', 'p99', 'cpuUsPerReq', 'peakRssMiB', 'added']

/** The median of the finite numbers in `values`; null when there are none. */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/**
 * One table row from the rounds of one (scenario, proxy, tool): medians of rate, latency
 * and CPU; the largest peak RSS, with its parts (rssParts: the process's own memory and
 * the file-backed pages of that round's largest sample, null when not read); errors summed.
 */
export function aggregate(scenario, proxy, tool, rounds, extra = {}) {
  const pick = (k) => median(rounds.map((r) => r[k]))
  const rss = rounds.map((r) => r.peakRssMiB).filter((x) => typeof x === 'number')
  const top = rounds.reduce((a, r) => (typeof r.peakRssMiB === 'number' && (a === null || r.peakRssMiB > a.peakRssMiB) ? r : a), null)
  return {
    scenario,
    proxy,
    tool,
    rounds: rounds.length,
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    cpuUsPerReq: pick('cpuUsPerReq'),
    cpuPct: pick('cpuPct'),
    peakRssMiB: rss.length ? Math.max(...rss) : null,
    rssParts: typeof top?.peakAnonMiB === 'number' && typeof top?.peakFileMiB === 'number' ? { rssMiB: top.peakRssMiB, ownMiB: top.peakAnonMiB, fileMiB: top.peakFileMiB } : null,
    errors: rounds.reduce((a, r) => a + (r.errors ?? 0) + (r.non2xx ?? 0), 0),
    added: null,
    ...extra,
  }
}

/** Set `added` on hop rows: p50 minus the p50 of the `direct` row with the same scenario and tool. */
export function addHopLatency(rows) {
  for (const row of rows) {
    const direct = rows.find((r) => r.scenario === row.scenario && r.tool === row.tool && r.proxy === 'direct')
    if (direct && row.proxy !== 'direct' && row.p50 !== null && direct.p50 !== null) row.added = row.p50 - direct.p50
  }
  return rows
}

/**
 * Set `ratio[metric]` = value / nginx's value (same scenario and tool) on every proxy row;
 * the `direct` baseline rows get none.
 */
export function addRatios(rows) {
  for (const row of rows) {
    const ngx = row.proxy === 'direct' ? null : rows.find((r) => r.scenario === row.scenario && r.tool === row.tool && r.proxy === 'nginx')
    row.ratio = {}
    for (const m of METRICS) {
      const a = row[m]
      const b = ngx?.[m]
      row.ratio[m] = ngx && ngx !== row && typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null
    }
  }
  return rows
}

function num(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function ms(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-'
  return Math.abs(x) < 10 ? num(x, 3) : num(x, 1)
}

function withRatio(text, ratio) {
  return ratio === null || ratio === undefined ? text : `${text} (${ratio.toFixed(2)}x)`
}

const COLUMNS = [
  ['scenario', (r) => r.scenario],
  ['proxy', (r) => r.proxy],
  ['tool', (r) => r.tool],
  ['req/s', (r) => withRatio(num(r.rps, 0), r.ratio.rps)],
  ['p50 ms', (r) => withRatio(ms(r.p50), r.ratio.p50)],
  ['p99 ms', (r) => withRatio(ms(r.p99), r.ratio.p99)],
  ['added p50 ms', (r) => (r.added === null ? '' : withRatio(ms(r.added), r.ratio.added))],
  ['cpu/req us', (r) => withRatio(num(r.cpuUsPerReq, 1), r.ratio.cpuUsPerReq)],
  ['cpu%', (r) => (r.cpuPct === null ? '-' : `${Math.round(r.cpuPct)}%`)],
  ['peak RSS MiB', (r) => withRatio(num(r.peakRssMiB, 1), r.ratio.peakRssMiB)],
  ['errors', (r) => String(r.errors)],
  ['note', (r) => r.note ?? ''],
]

/** The table as text lines: a header, a rule, one line per row, a blank line between scenarios. */
export function formatTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, f]) => f(r)))
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)))
  const line = (values) =>
    values
      .map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [line(COLUMNS.map(([t]) => t)), widths.map((w) => '-'.repeat(w)).join('  ')]
  rows.forEach((r, i) => {
    if (i > 0 && rows[i - 1].scenario !== r.scenario) out.push('')
    out.push(line(cells[i]))
  })
  return out
}

function find(rows, scenario, proxy, tools) {
  for (const tool of tools) {
    const row = rows.find((r) => r.scenario === scenario && r.proxy === proxy && r.tool === tool)
    if (row) return row
  }
  return null
}

/**
 * The four goals of issue 5, each cutover against nginx in this run:
 * [{ goal, metric, scenario, tool, cutover, nginx, ratio }] (null figures when not measured).
 */
export function goals(rows) {
  const spec = [
    // the headline is proxy-bound: wrk without a Lua script, so the client is not the limit (read cpu% beside it)
    ['throughput, small GET (req/s, higher is better)', 'small-get', ['wrk', 'autocannon'], 'rps'],
    ['CPU per request, small GET (us, lower is better)', 'small-get', ['wrk', 'autocannon'], 'cpuUsPerReq'],
    ['throughput, 64 KiB answers (req/s, higher is better)', 'get-64k', ['wrk', 'autocannon'], 'rps'],
    ['throughput, 1 MiB uploads (req/s, higher is better)', 'post-1m', ['wrk', 'autocannon'], 'rps'],
    ['throughput, everything on: sticky key (req/s, higher is better)', 'sticky', ['wrk', 'autocannon'], 'rps'],
    ['p99 at a fixed moderate rate (ms, lower is better)', 'rate-p99', ['paced'], 'p99'],
    ['latency one hop adds at low load (median ms, lower is better)', 'hop-latency', ['wrk', 'node-seq'], 'added'],
    ['peak RSS with 1,000 open connections (MiB, lower is better)', 'conns-1000', ['paced'], 'peakRssMiB'],
  ]
  return spec.map(([goal, scenario, tools, metric]) => {
    const c = find(rows, scenario, 'cutover', tools)
    const tool = c?.tool ?? find(rows, scenario, 'nginx', tools)?.tool ?? tools[0]
    const n = find(rows, scenario, 'nginx', [tool])
    const cv = c?.[metric] ?? null
    const nv = n?.[metric] ?? null
    const parts = metric === 'peakRssMiB' ? (c?.rssParts ?? null) : null
    return { goal, metric, scenario, tool, cutover: cv, nginx: nv, ratio: cv !== null && nv !== null && nv > 0 ? cv / nv : null, parts }
  })
}

/** The goals as text lines. */
export function formatGoals(list) {
  return list.map((g) => {
    const f = g.metric === 'rps' ? (x) => num(x, 0) : g.metric === 'peakRssMiB' || g.metric === 'cpuUsPerReq' ? (x) => num(x, 1) : ms
    const ratio = g.ratio === null ? 'not measured' : `${g.ratio.toFixed(2)}x nginx`
    const parts = g.parts ? `; cutover's largest sample ${num(g.parts.rssMiB, 1)}: own ${num(g.parts.ownMiB, 1)} + file-backed ${num(g.parts.fileMiB, 1)}` : ''
    return `  ${g.goal}: cutover ${f(g.cutover)}, nginx ${f(g.nginx)} -> ${ratio}  [${g.scenario}, ${g.tool}${parts}]`
  })
}
