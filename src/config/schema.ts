/**
 * The configuration schema (SPEC section 2 plus the marked extensions): every key, its
 * rule and its default, in one place. Cross-key rules sit beside the section they bind.
 */

import { POOLS, type NodeConfig } from './types.js'
import { listen, node, httpUrl } from './addresses.js'
import { analysisSection, driftSection, shadowSection } from './analysis.js'
import { GRPC_FAILURES_DEFAULT, grpcFailures } from './h2.js'
import { itemPath, keyPath } from './problems.js'
import { boolean, byteSize, describe, duration, field, isPlainObject, number, object, oneOf, percent, readableFile, string, token, type Ctx, type Rule } from './rules.js'
import { rollout } from './rollout-steps.js'
import { stateSection } from './state-backend.js'
import { REPORTED } from './yaml-tree.js'

const { readFileSync } = process.getBuiltinModule('node:fs')

const positive = { min: 1 }

const workers: Rule<number | 'auto'> = (value, path, ctx) => (value === 'auto' ? 'auto' : number({ integer: true, min: 1 })(value, path, ctx))

const proxy = object({
  listen: field(listen, { default: '0.0.0.0:8080' }),
  tls: field(object({ cert: field(readableFile, { required: true }), key: field(readableFile, { required: true }) })),
  workers: field(workers, { default: 1 }),
  connect_timeout: field(duration(positive), { default: '2s' }),
  header_timeout: field(duration(positive), { default: '10s' }),
  request_timeout: field(duration(positive), { default: '60s' }),
  drain_timeout: field(duration(), { default: '30s' }),
  retries: field(number({ integer: true, min: 0, max: 10 }), { default: 1 }),
  keepalive_timeout: field(duration(positive), { default: '5s' }),
  max_connections: field(number({ integer: true, min: 0 }), { default: 0 }),
  max_header_size: field(byteSize({ min: 1024 }), { default: 16384 }),
  max_body_size: field(byteSize({ min: 0 }), { default: 0 }),
  // past it, shedding with 503 + Retry-After keeps memory bounded and the control API answering
  max_inflight: field(number({ integer: true, min: 0 }), { default: 10000 }),
  // per node: beyond it a request waits for a free connection (nginx keeps 64 idle ones)
  upstream_max_connections: field(number({ integer: true, min: 0 }), { default: 64 }),
  // an idle node connection is reused within it (or within the node's Keep-Alive timeout, less 1 s)
  upstream_keepalive_timeout: field(duration(positive), { default: '30s' }),
  // an answer whose body stops moving (the node sends nothing, or the client takes nothing) is cut, as nginx's proxy_read_timeout and send_timeout
  idle_timeout: field(duration(positive), { default: '60s' }),
  // extension (issue 12): h2c with prior knowledge, for gRPC clients without TLS
  h2c_listen: field(listen),
  h2_max_concurrent_streams: field(number({ integer: true, min: 1, max: 10000 }), { default: 128 }),
  // extension: behind a TCP balancer that sends the PROXY protocol (v1 or v2) on every connection
  proxy_protocol: field(boolean(), { default: false }),
})

const TOKEN_MIN = 8

/** A token kept in a file (a Kubernetes Secret's mount): its content, without the trailing newline. */
const tokenFile: Rule<{ file: string; token: string }> = (value, path, ctx) => {
  const file = readableFile(value, path, ctx)
  if (file === undefined) return undefined
  const token = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  if (token.length < TOKEN_MIN) {
    ctx.problems.add(path, `${file} holds a token too short: at least ${TOKEN_MIN} characters`)
    return undefined
  }
  if (/\s/.test(token)) {
    ctx.problems.add(path, `${file} holds a token with white space or more than one line`)
    return undefined
  }
  return { file, token }
}

const control = object(
  {
    listen: field(listen, { default: '127.0.0.1:9901' }),
    // it guards rollback and split changes: a guessable token is refused
    token: field(string({ min: TOKEN_MIN })),
    // extension (issue 14): the operator token read from a file instead
    token_file: field(tokenFile),
    // extension (issue 14): a read-only role for watchers
    viewer_token: field(string({ min: TOKEN_MIN })),
    viewer_token_file: field(tokenFile),
    // extension (issue 14): HTTPS on the control listener, files re-read on SIGHUP
    tls: field(object({ cert: field(readableFile, { required: true }), key: field(readableFile, { required: true }) })),
  },
  (out, raw, path, ctx) => {
    for (const [plain, file] of [
      ['token', 'token_file'],
      ['viewer_token', 'viewer_token_file'],
    ] as const) {
      if (raw[plain] != null && raw[file] != null) ctx.problems.add(keyPath(path, file), `${plain} is set too; choose one`)
      const fromFile = out[file] as { file: string; token: string } | undefined
      if (fromFile !== undefined) {
        out[plain] = fromFile.token
        out[file] = fromFile.file
      }
    }
    if (raw.token == null && raw.token_file == null) ctx.problems.add(keyPath(path, 'token'), 'required')
    if (typeof out.token === 'string' && out.token === out.viewer_token) ctx.problems.add(keyPath(path, 'viewer_token'), 'must differ from the operator token')
  },
)

const STICKY_RULES = ['header', 'cookie', 'ip']
const ipTrue: Rule<true> = (value, path, ctx) => {
  if (value === true) return true
  ctx.problems.add(path, `must be true (sticky by client address), got ${describe(value)}`)
  return undefined
}
const sticky = object({ header: field(token({ lower: true })), cookie: field(token({ lower: false })), ip: field(ipTrue) }, (_out, raw, path, ctx) => {
  const given = STICKY_RULES.filter((k) => raw[k] != null)
  if (given.length === 0) ctx.problems.add(path, 'needs one of header, cookie or ip')
  if (given.length > 1) ctx.problems.add(path, `has ${given.join(' and ')}; choose one`)
})

const split = object({
  y: field(percent(), { default: 0 }),
  sticky: field(sticky),
  override_header: field(token({ lower: true })),
})

/** Both pools, each node (and each node name) once across both, at least one node in all. */
const pools: Rule<Record<string, { nodes: NodeConfig[] }>> = (value, path, ctx: Ctx) => {
  const nodes = nodeList(new Map(), new Map())
  const pool = field(object({ nodes: field(nodes, { required: true }) }), { required: true })
  const out = object({ x: pool, y: pool })(value, path, ctx)
  if (out === undefined || !isPlainObject(value)) return undefined
  const written = POOLS.map((p) => (isPlainObject(value[p]) ? value[p].nodes : undefined))
  if (written.every((n) => Array.isArray(n) && n.length === 0)) ctx.problems.add(path, 'needs at least one node in x or y')
  return out as Record<string, { nodes: NodeConfig[] }>
}

/** A pool's node list; `seen` and `named` map each origin and name to where it was first listed, across pools. */
function nodeList(seen: Map<string, string>, named: Map<string, string>): Rule<NodeConfig[]> {
  return (value, path, ctx) => {
    if (!Array.isArray(value)) {
      ctx.problems.add(path, 'expected a list of node URLs')
      return undefined
    }
    const nodes: NodeConfig[] = []
    value.forEach((raw, index) => {
      if (raw === REPORTED) return
      const at = itemPath(path, index)
      const parsed = node(raw, at, ctx)
      if (parsed === undefined) return
      const first = seen.get(parsed.origin)
      if (first !== undefined) ctx.problems.add(at, `${parsed.url} is already listed at ${first}`)
      else seen.set(parsed.origin, at)
      const sameName = named.get(parsed.name)
      if (first === undefined && sameName !== undefined) ctx.problems.add(at, `the name ${parsed.name} is already used at ${sameName}`)
      else named.set(parsed.name, at)
      nodes.push(parsed)
    })
    return nodes
  }
}

const active = object(
  {
    path: field(string(), { default: '/status/ready' }),
    port: field(number({ integer: true, min: 1, max: 65535 })),
    // extension (issue 12): grpc probes grpc.health.v1.Health/Check on each node's h2 address
    type: field(oneOf(['http', 'grpc'] as const), { default: 'http' }),
    grpc_service: field(string({ min: 0 }), { default: '' }),
    interval: field(duration(positive), { default: '2s' }),
    timeout: field(duration(positive), { default: '1s' }),
    healthy_threshold: field(number({ integer: true, min: 1, max: 100 }), { default: 2 }),
    unhealthy_threshold: field(number({ integer: true, min: 1, max: 100 }), { default: 2 }),
  },
  (out, _raw, path, ctx) => {
    if (typeof out.path === 'string' && !out.path.startsWith('/')) ctx.problems.add(keyPath(path, 'path'), `must start with /, got ${JSON.stringify(out.path)}`)
    const { timeout, interval } = out as { timeout?: number; interval?: number }
    if (timeout !== undefined && interval !== undefined && timeout > interval) {
      ctx.problems.add(keyPath(path, 'timeout'), 'must not exceed interval: a probe must end before the next one starts')
    }
  },
)

const health = object({
  active: field(active),
  passive: field(
    object({
      max_failures: field(number({ integer: true, min: 1 }), { default: 5 }),
      eject_for: field(duration(positive), { default: '30s' }),
    }),
    { default: {} },
  ),
})

const rate = number({ min: 0, max: 1 })

/** gates.risk: a probability of a false rollback, so above 0; at 0.5 or more it would be a coin toss. */
const risk: Rule<number> = (value, path, ctx) => {
  const n = number()(value, path, ctx)
  if (n === undefined) return undefined
  if (!(n > 0 && n < 0.5)) {
    ctx.problems.add(path, `must be above 0 and below 0.5 (the chance a healthy y is ever rolled back during a rollout, e.g. 0.05), got ${n}`)
    return undefined
  }
  return n
}

const gates = object({
  window: field(duration({ min: 1_000, max: 3_600_000 }), { default: '60s' }),
  min_requests: field(number({ integer: true, min: 1 }), { default: 100 }),
  max_error_rate: field(rate, { default: 0.01 }),
  max_error_rate_over_x: field(rate),
  max_p99_ms: field(number({ above: 0 })),
  risk: field(risk, { default: 0.05 }),
  // extension (issue 12): a gRPC call with one of these grpc-status values counts as an error
  grpc_failures: field(grpcFailures, { default: GRPC_FAILURES_DEFAULT }),
  action: field(oneOf(['rollback', 'pause'] as const), { default: 'rollback' }),
  // extension (issue 13): a rollout's first step holds until y's shadow answers agree with x's
  max_shadow_mismatch_rate: field(rate),
})

const log = object({
  level: field(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), { default: 'info' }),
  access: field(boolean(), { default: false }),
  access_sample: field(rate, { default: 0.01 }),
})

const events = object({
  webhook: field(httpUrl),
  // extension (issue 14): the audit log file beside the state file
  audit: field(
    object({
      max_size: field(byteSize({ min: 4096 }), { default: '10mb' }),
      keep: field(number({ integer: true, min: 0, max: 100 }), { default: 5 }),
    }),
    { default: {} },
  ),
})

/** The whole file. control and pools are required; every other section has defaults. */
export const configSchema = object({
  proxy: field(proxy, { default: {} }),
  control: field(control, { required: true }),
  state: field(stateSection, { default: {} }),
  pools: field(pools, { required: true }),
  split: field(split, { default: {} }),
  health: field(health, { default: {} }),
  gates: field(gates, { default: {} }),
  rollout: field(rollout),
  log: field(log, { default: {} }),
  events: field(events, { default: {} }),
  // extension (issue 13): shadow requests, config drift, external metric gates and step hooks
  shadow: field(shadowSection),
  drift: field(driftSection),
  analysis: field(analysisSection, { default: {} }),
})
