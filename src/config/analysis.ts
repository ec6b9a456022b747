/**
 * The config sections of issue 13, proving y before it takes traffic: `shadow` (copies of
 * x's requests sent to y and compared), `drift` (Kong's configuration_hash watched on every
 * node) and `analysis` (PromQL gates and step hooks). Each section is absent unless written.
 */

import { httpUrl } from './addresses.js'
import type { AnalysisConfig, DriftConfig, ShadowConfig } from './analysis-types.js'
import { itemPath, keyPath } from './problems.js'
import { boolean, byteSize, describe, duration, field, number, object, oneOf, percent, readableFile, string, token, type Rule } from './rules.js'

export type { AnalysisConfig, DriftConfig, PromGateConfig, ShadowConfig, StatusTarget } from './analysis-types.js'

const DEFAULT_IGNORED = [
  'date',
  'via',
  'server',
  'x-kong-request-id',
  'x-kong-upstream-latency',
  'x-kong-proxy-latency',
  'x-kong-response-latency',
  'x-kong-total-latency',
  'x-kong-waiting-time',
  'age',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'set-cookie',
]

const METHOD = /^[A-Z]+$/

const methods: Rule<string[]> = (value, path, ctx) => {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.problems.add(path, `expected a list of methods such as [GET, HEAD], got ${describe(value)}`)
    return undefined
  }
  const out: string[] = []
  value.forEach((m, i) => {
    if (typeof m !== 'string' || !METHOD.test(m)) ctx.problems.add(itemPath(path, i), `expected an upper-case method such as GET, got ${describe(m)}`)
    else out.push(m)
  })
  return out
}

/** A list of strings, each checked by item. */
function list(item: Rule<string>): Rule<string[]> {
  return (value, path, ctx) => {
    if (!Array.isArray(value)) {
      ctx.problems.add(path, `expected a list, got ${describe(value)}`)
      return undefined
    }
    const out: string[] = []
    value.forEach((v, i) => {
      const r = item(v, itemPath(path, i), ctx)
      if (r !== undefined) out.push(r)
    })
    return out
  }
}

const lowerToken = token({ lower: true })

/** the largest shadow.max_body_bytes: each of max_concurrent copies may hold this much */
const MAX_SHADOW_BODY = 16 * 1024 * 1024

/**
 * the largest shadow.json_max: one body's JSON.parse is one step on the data plane's event
 * loop (a median 6.5 ms at 1 MiB, 24 ms at 4 MiB on the shared 2-core machine); a longer body is
 * still compared, by hash
 */
const MAX_JSON_MAX = 1024 * 1024

export const shadowSection = object(
  {
    share: field(percent(), { required: true }),
    methods: field(methods, { default: ['GET', 'HEAD', 'OPTIONS'] }),
    max_concurrent: field(number({ integer: true, min: 1, max: 10000 }), { default: 32 }),
    timeout: field(duration({ min: 1 }), { default: '5s' }),
    header: field(lowerToken, { default: 'x-cutover-shadow' }),
    ignore_headers: field(list(lowerToken), { default: DEFAULT_IGNORED }),
    ignore_fields: field(list(string()), { default: [] }),
    json_max: field(byteSize({ min: 0 }), { default: '256kib' }),
    redact_headers: field(list(lowerToken), { default: [] }),
    max_body_bytes: field(byteSize({ min: 0 }), { default: '64kib' }),
  },
  (out, _raw, path, ctx) => {
    if (typeof out.max_body_bytes === 'number' && out.max_body_bytes > MAX_SHADOW_BODY)
      ctx.problems.add(keyPath(path, 'max_body_bytes'), `must be at most 16mib (a body is held in memory for its copy), got ${out.max_body_bytes}`)
    if (typeof out.json_max === 'number' && out.json_max > MAX_JSON_MAX)
      ctx.problems.add(keyPath(path, 'json_max'), `must be at most 1mib (a JSON body is parsed in one step on the event loop; a longer one is compared by hash), got ${out.json_max}`)
  },
)

const statusPath: Rule<string> = (value, path, ctx) => {
  const s = string()(value, path, ctx)
  if (s !== undefined && !s.startsWith('/')) {
    ctx.problems.add(path, `must start with /, got ${JSON.stringify(s)}`)
    return undefined
  }
  return s
}

const scheme = oneOf(['http', 'https'] as const)
const statusPort = number({ integer: true, min: 1, max: 65535 })

/** a pool's status listener where it differs from drift's own keys */
const statusTarget = object({
  scheme: field(scheme),
  port: field(statusPort),
  path: field(statusPath),
})

export const driftSection = object(
  {
    scheme: field(scheme, { default: 'http' }),
    port: field(statusPort),
    path: field(statusPath, { default: '/status' }),
    x: field(statusTarget),
    y: field(statusTarget),
    tls: field(
      object({ ca: field(readableFile), insecure: field(boolean(), { default: false }) }, (out, _raw, path, ctx) => {
        if (out.ca !== undefined && out.insecure === true) ctx.problems.add(path, 'ca and insecure: true exclude each other: verify with the CA, or not at all')
      }),
    ),
    interval: field(duration({ min: 100 }), { default: '5s' }),
    timeout: field(duration({ min: 1 }), { default: '1s' }),
    action: field(oneOf(['pause', 'rollback', 'none'] as const), { default: 'pause' }),
  },
  (out, _raw, path, ctx) => {
    const pools = [out.x, out.y] as Array<{ scheme?: string } | undefined>
    const https = out.scheme === 'https' || pools.some((p) => p?.scheme === 'https')
    if (out.tls !== undefined && !https) ctx.problems.add(keyPath(path, 'tls'), 'is set but no status listener is read over https: set scheme: https (here, or under x or y)')
  },
)

const promGate = object(
  {
    name: field(string(), { required: true }),
    query: field(string(), { required: true }),
    max: field(number()),
    min: field(number()),
  },
  (out, _raw, path, ctx) => {
    if (out.max === undefined && out.min === undefined) ctx.problems.add(path, 'needs max or min: the threshold the value is held to')
  },
)

const promGates: Rule<unknown[]> = (value, path, ctx) => {
  if (!Array.isArray(value)) {
    ctx.problems.add(path, `expected a list of { name, query, max | min }, got ${describe(value)}`)
    return undefined
  }
  const names = new Set<string>()
  const out: unknown[] = []
  value.forEach((v, i) => {
    const g = promGate(v, itemPath(path, i), ctx) as { name?: string } | undefined
    if (g === undefined) return
    if (g.name !== undefined && names.has(g.name)) ctx.problems.add(keyPath(itemPath(path, i), 'name'), `${g.name} is used twice`)
    if (g.name !== undefined) names.add(g.name)
    out.push(g)
  })
  return out
}

export const analysisSection = object(
  {
    prometheus: field(
      object({
        url: field(httpUrl, { required: true }),
        timeout: field(duration({ min: 1 }), { default: '2s' }),
        interval: field(duration({ min: 100 }), { default: '10s' }),
      }),
    ),
    queries: field(promGates, { default: [] }),
    hooks: field(
      object({
        before_step: field(httpUrl),
        after_hold: field(httpUrl),
        timeout: field(duration({ min: 1 }), { default: '5s' }),
        retry: field(duration({ min: 100 }), { default: '10s' }),
      }),
      { default: {} },
    ),
  },
  (out, _raw, path, ctx) => {
    if (Array.isArray(out.queries) && out.queries.length > 0 && out.prometheus === undefined)
      ctx.problems.add(keyPath(path, 'prometheus'), 'required when queries are set: the Prometheus HTTP API they are asked of')
  },
)

/** The issue-13 sections as `cutover check` prints them (durations and sizes as text), absent ones left out. */
export function formatAnalysisSections(config: { shadow?: ShadowConfig; drift?: DriftConfig; analysis: AnalysisConfig }, formatDuration: (ms: number) => string): Record<string, unknown> {
  const { shadow, drift, analysis } = config
  const hooks = analysis.hooks
  return {
    ...(shadow && {
      shadow: {
        ...shadow,
        methods: [...shadow.methods],
        ignore_headers: [...shadow.ignore_headers],
        ignore_fields: [...shadow.ignore_fields],
        redact_headers: [...shadow.redact_headers],
        timeout: formatDuration(shadow.timeout),
      },
    }),
    ...(drift && {
      drift: {
        ...drift,
        ...(drift.x && { x: { ...drift.x } }),
        ...(drift.y && { y: { ...drift.y } }),
        ...(drift.tls && { tls: { ...drift.tls } }),
        interval: formatDuration(drift.interval),
        timeout: formatDuration(drift.timeout),
      },
    }),
    analysis: {
      ...(analysis.prometheus && { prometheus: { url: analysis.prometheus.url, timeout: formatDuration(analysis.prometheus.timeout), interval: formatDuration(analysis.prometheus.interval) } }),
      queries: analysis.queries.map((q) => ({ ...q })),
      hooks: {
        ...(hooks.before_step && { before_step: hooks.before_step }),
        ...(hooks.after_hold && { after_hold: hooks.after_hold }),
        timeout: formatDuration(hooks.timeout),
        retry: formatDuration(hooks.retry),
      },
    },
  }
}
