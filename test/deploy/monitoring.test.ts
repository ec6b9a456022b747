/**
 * deploy/prometheus and deploy/grafana: promtool accepts the rules and their unit tests
 * pass; the dashboard is well-formed Grafana JSON; and every metric either of them reads
 * is one cutover exports (SPEC section 6) or Prometheus' `up`.
 */

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse, stringify } from 'yaml'

/** Series cutover exports (histograms as their _bucket/_sum/_count series). */
const SPEC_METRICS = new Set([
  'cutover_requests_total',
  'cutover_request_duration_seconds_bucket',
  'cutover_request_duration_seconds_sum',
  'cutover_request_duration_seconds_count',
  'cutover_upstream_errors_total',
  'cutover_split_percent',
  'cutover_node_healthy',
  'cutover_rollbacks_total',
  'cutover_requests_in_flight',
])

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan'])

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' ') // dashboard variables
    .replace(/(?<![\w:])\d[\w.]*/g, ' ') // numbers and durations (5m, 0.99, 1e3)
  const names: string[] = []
  for (const m of bare.matchAll(/[A-Za-z_:][\w:]*(\s*\()?/g)) {
    const word = m[0].replace(/\s*\($/, '')
    if (m[1] || KEYWORDS.has(word.toLowerCase())) continue
    names.push(word)
  }
  return names
}

const ROOT = resolve(import.meta.dirname, '../..')
const RULES = join(ROOT, 'deploy/prometheus/cutover-rules.yaml')
const RULE_TESTS = join(ROOT, 'deploy/prometheus/cutover-rules.test.yaml')
const DASHBOARD = join(ROOT, 'deploy/grafana/cutover-dashboard.json')
const hasPromtool = spawnSync('promtool', ['--version']).status === 0
const NO_PROMTOOL = 'promtool not installed (apt-get install prometheus; .ci/run does it)'

interface Rule {
  record?: string
  alert?: string
  expr: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
const groups = parse(readFileSync(RULES, 'utf8')).groups as { name: string; rules: Rule[] }[]
const rules = groups.flatMap((g) => g.rules)

t.test('promtool check rules', { skip: !hasPromtool && NO_PROMTOOL }, async (t) => {
  const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stdout + r.stderr)
})

t.test('promtool test rules', { skip: !hasPromtool && NO_PROMTOOL }, async (t) => {
  const r = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stdout + r.stderr)
})

t.test('the alerts the runbook expects, each with severity, summary and description', async (t) => {
  const alerts = rules.filter((r) => r.alert)
  const names = alerts.map((a) => a.alert)
  for (const want of ['CutoverRollback', 'CutoverYErrorRatioHigh', 'CutoverPoolWithShareHasNoHealthyNode', 'CutoverDown']) {
    t.ok(names.includes(want), want)
  }
  for (const a of alerts) {
    t.match(a.labels?.severity, /^(critical|warning|info)$/, `${a.alert} severity`)
    t.ok(a.annotations?.summary, `${a.alert} summary`)
    t.ok(a.annotations?.description, `${a.alert} description`)
  }
  t.match(alerts.find((a) => a.alert === 'CutoverDown')?.expr, /up\{job="cutover"\} == 0/)
})

t.test('rules read only cutover metrics, their own recordings, or up', async (t) => {
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])))
  for (const r of rules) {
    for (const name of metricNames(r.expr)) {
      const ok = SPEC_METRICS.has(name) || recorded.has(name) || name === 'up'
      t.ok(ok, `${r.record ?? r.alert}: ${name}`)
    }
  }
})

t.test('metricNames finds metrics, not functions, labels, keywords or durations', async (t) => {
  t.same(metricNames('sum by (pool, le) (rate(foo_total{code="5xx", a=~"$job"}[$__rate_interval])) / on (x) bar:rec:rate5m offset 5m > 0.01'), ['foo_total', 'bar:rec:rate5m'])
  t.same(metricNames('histogram_quantile(0.99, sum without (node) (x_bucket)) and up == 0 unless absent(y)'), ['x_bucket', 'up', 'y'])
})

interface Target {
  expr?: string
  refId?: string
  datasource?: { uid?: string }
}
interface Panel {
  id?: number
  type?: string
  title?: string
  datasource?: { uid?: string }
  gridPos?: { x?: number; y?: number; w?: number; h?: number }
  targets?: Target[]
}
interface Dashboard {
  title?: string
  uid?: string
  schemaVersion?: number
  panels?: Panel[]
  annotations?: { list?: { name?: string; expr?: string; datasource?: { uid?: string } }[] }
  templating?: { list?: { name: string; type: string; query?: unknown }[] }
}

t.test('grafana dashboard is well-formed', async (t) => {
  const text = readFileSync(DASHBOARD, 'utf8')
  let dash: Dashboard = {}
  t.doesNotThrow(() => (dash = JSON.parse(text)), 'valid JSON')
  t.type(dash.title, 'string')
  t.match(dash.uid, /^[\w-]{1,40}$/, 'uid Grafana accepts')
  t.ok(typeof dash.schemaVersion === 'number' && dash.schemaVersion >= 36, 'schemaVersion of Grafana 9+')
  t.ok(Array.isArray(dash.annotations?.list), 'annotations list present')
  const vars = dash.templating?.list ?? []
  t.ok(
    vars.some((v) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus'),
    'templated datasource',
  )

  const panels = dash.panels ?? []
  t.ok(panels.length >= 8, 'panels')
  const ids = panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'unique panel ids')
  const cells = new Set<string>()
  for (const p of panels) {
    const name = `panel ${p.id} ${p.title}`
    t.type(p.id, 'number', `${name}: id`)
    t.type(p.type, 'string', `${name}: type`)
    t.ok(p.title, `${name}: title`)
    const g = p.gridPos ?? {}
    const ints = [g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n))
    t.ok(ints && g.w! > 0 && g.h! > 0 && g.x! >= 0 && g.x! + g.w! <= 24, `${name}: gridPos {x,y,w,h} within 24 columns`)
    // No two panels on the same grid cell.
    let overlap = false
    for (let x = g.x!; ints && x < g.x! + g.w!; x++) {
      for (let y = g.y!; y < g.y! + g.h!; y++) {
        if (cells.has(`${x},${y}`)) overlap = true
        cells.add(`${x},${y}`)
      }
    }
    t.notOk(overlap, `${name}: does not overlap another panel`)
    t.equal(p.datasource?.uid, '${datasource}', `${name}: uses the datasource variable`)
    t.ok(p.targets?.length, `${name}: has targets`)
    for (const target of p.targets ?? []) {
      t.ok(target.expr?.trim(), `${name}: target ${target.refId} has an expr`)
      t.ok(target.refId, `${name}: target refId`)
    }
  }
})

/** Every PromQL expression in the dashboard: targets, annotations, variable queries. */
function dashboardExprs(dash: Dashboard): string[] {
  const exprs = (dash.panels ?? []).flatMap((p) => (p.targets ?? []).map((x) => x.expr ?? ''))
  for (const a of dash.annotations?.list ?? []) if (a.expr) exprs.push(a.expr)
  for (const v of dash.templating?.list ?? []) {
    const q = (v.query as { query?: string } | undefined)?.query
    if (v.type === 'query' && q) exprs.push(q.replace(/^label_values\((.*),\s*\w+\)$/, '$1'))
  }
  return exprs
}

t.test('dashboard shows what operators need, from cutover metrics only', async (t) => {
  const dash: Dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'))
  const exprs = dashboardExprs(dash)
  for (const expr of exprs) {
    for (const name of metricNames(expr)) t.ok(SPEC_METRICS.has(name) || name === 'up', `${name} in ${expr}`)
  }
  const all = (dash.panels ?? []).map((p) => (p.targets ?? []).map((x) => x.expr).join('\n')).join('\n')
  t.match(all, /cutover_split_percent/, 'split')
  t.match(all, /rate\(cutover_requests_total\{[^}]*\}\[\$__rate_interval\]\)/, 'request rate')
  t.match(all, /code="5xx"/, 'error ratio')
  t.match(all, /histogram_quantile\(0\.99, sum by \(le, pool\) \(rate\(cutover_request_duration_seconds_bucket\{[^}]*\}\[1m\]\)\)\)/, 'p99')
  t.match(all, /sum by \(pool, kind\) \(rate\(cutover_upstream_errors_total/, 'upstream errors by kind')
  t.match(all, /cutover_node_healthy/, 'node health')
  t.match(all, /cutover_requests_in_flight/, 'in flight')
  const rollbacks = dash.annotations?.list?.find((a) => a.expr)
  t.match(rollbacks?.expr, /^changes\(cutover_rollbacks_total\{[^}]*\}\[1m\]\) > 0$/, 'rollback annotations')
  t.equal(rollbacks?.datasource?.uid, '${datasource}')
})

t.test('dashboard PromQL parses (via promtool)', { skip: !hasPromtool && NO_PROMTOOL }, async (t) => {
  const dash: Dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'))
  // Grafana's variables replaced by what they expand to.
  const rules = dashboardExprs(dash).map((expr, i) => ({
    record: `dashboard:expr${i}`,
    expr: expr.replaceAll('$__rate_interval', '1m').replace(/\$\w+/g, '.*'),
  }))
  const dir = mkdtempSync(join(tmpdir(), 'cutover-dashboard-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'dashboard-rules.yaml')
  writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }))
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stdout + r.stderr)
})
