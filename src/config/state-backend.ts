/**
 * The `state` section: where the live state lives. `file` (the default) is one cutover's
 * state file; `etcd` is a fleet's shared state (issue 11): endpoints, a key prefix naming
 * the cutover cluster, the lease that says a replica is alive, optional TLS and user.
 */

import { parseServerUrl } from './addresses.js'
import type { EtcdConfig, StateConfig } from './state-types.js'
import { itemPath, keyPath } from './problems.js'
import { duration, field, object, oneOf, readableFile, string, type Rule } from './rules.js'

export type { EtcdConfig, StateBackendKind, StateConfig } from './state-types.js'

const PREFIX = /^(\/[A-Za-z0-9._-]+)+$/
const REPLICA_ID = /^[A-Za-z0-9._:-]{1,128}$/

const endpoints: Rule<string[]> = (value, path, ctx) => {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.problems.add(path, 'expected a list of etcd client URLs, e.g. [http://127.0.0.1:2379]')
    return undefined
  }
  const out: string[] = []
  value.forEach((raw, i) => {
    const at = itemPath(path, i)
    if (typeof raw !== 'string') {
      ctx.problems.add(at, 'expected an http:// or https:// URL')
      return
    }
    const url = parseServerUrl(raw)
    if (typeof url === 'string') ctx.problems.add(at, url)
    else if (url.port === '') ctx.problems.add(at, `needs a port (etcd's client port is usually 2379), got ${raw}`)
    else out.push(url.origin)
  })
  return out.length === value.length ? out : undefined
}

const prefix: Rule<string> = (value, path, ctx) => {
  const s = string()(value, path, ctx)
  if (s === undefined) return undefined
  if (!PREFIX.test(s)) {
    ctx.problems.add(path, `must be a key path such as /cutover/prod-eu (segments of letters, digits, . _ -; no trailing /), got ${JSON.stringify(s)}`)
    return undefined
  }
  return s
}

const replicaId: Rule<string> = (value, path, ctx) => {
  const s = string()(value, path, ctx)
  if (s === undefined) return undefined
  if (!REPLICA_ID.test(s)) {
    ctx.problems.add(path, `must be 1 to 128 letters, digits or . _ : -, got ${JSON.stringify(s)}`)
    return undefined
  }
  return s
}

const etcd = object(
  {
    endpoints: field(endpoints, { required: true }),
    prefix: field(prefix, { required: true }),
    // etcd counts lease TTLs in whole seconds; under 2 s a busy replica may lose its lease
    lease_ttl: field(duration({ min: 2_000, max: 60_000 }), { default: '5s' }),
    tls: field(
      object({ ca: field(readableFile), cert: field(readableFile), key: field(readableFile) }, (out, _raw, path, ctx) => {
        if ((out.cert === undefined) !== (out.key === undefined)) ctx.problems.add(path, 'cert and key go together: give both or neither')
      }),
    ),
    username: field(string()),
    password: field(string()),
  },
  (out, raw, path, ctx) => {
    if ((raw.username == null) !== (raw.password == null)) ctx.problems.add(path, 'username and password go together: give both or neither')
    if (typeof out.lease_ttl === 'number' && out.lease_ttl % 1000 !== 0) ctx.problems.add(keyPath(path, 'lease_ttl'), 'must be whole seconds (etcd leases count in seconds)')
  },
)

/** The `state` section's rule. */
export const stateSection = object(
  {
    path: field(string(), { default: './var/cutover-state.json' }),
    backend: field(oneOf(['file', 'etcd'] as const), { default: 'file' }),
    etcd: field(etcd),
    replica_id: field(replicaId),
  },
  (out, raw, path, ctx) => {
    if (out.backend === 'etcd' && raw.etcd == null) ctx.problems.add(keyPath(path, 'etcd'), 'required when backend is etcd (endpoints and prefix)')
    if (out.backend === 'file' && raw.etcd != null) ctx.problems.add(keyPath(path, 'etcd'), 'is set but backend is file: set backend: etcd to use it, or remove it')
  },
)

/** Etcd lease TTL in whole seconds (etcd's unit). */
export function leaseSeconds(config: EtcdConfig): number {
  return Math.max(1, Math.round(config.lease_ttl / 1000))
}

/** The `state` section as `cutover check` prints it: defaults filled in, the etcd password masked. */
export function formatStateSection(state: StateConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { path: state.path, backend: state.backend }
  if (state.etcd) {
    const e = state.etcd
    out.etcd = {
      endpoints: [...e.endpoints],
      prefix: e.prefix,
      lease_ttl: `${e.lease_ttl / 1000}s`,
      ...(e.tls && { tls: { ...e.tls } }),
      ...(e.username !== undefined && { username: e.username, password: '********' }),
    }
  }
  if (state.replica_id !== undefined) out.replica_id = state.replica_id
  return out
}
