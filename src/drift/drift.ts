/**
 * Config drift, decided from the configuration_hash each Kong node reports on its status
 * listener (DB-less and hybrid data planes): a pool whose nodes disagree, or a node whose
 * hash changes while a rollout runs or y's share is strictly between 0 and 100. Pure.
 */

import type { PoolName } from '../config/types.js'

export interface NodeHash {
  pool: PoolName
  node: string
  /** null: not read yet, or the node does not report one */
  hash: string | null
}

export type Drift =
  | { kind: 'pool_disagrees'; pool: PoolName; hashes: Record<string, string>; reason: string }
  | { kind: 'hash_changed'; pool: PoolName; node: string; from: string; to: string; reason: string }

/** Kong reports all zeros before any config is loaded: no config, no hash to compare. */
export const NO_CONFIG_HASH = '00000000000000000000000000000000'

export function knownHash(hash: unknown): string | null {
  return typeof hash === 'string' && /^[0-9a-f]{1,128}$/i.test(hash) && hash !== NO_CONFIG_HASH ? hash.toLowerCase() : null
}

/** The distinct known hashes of a pool's nodes, by node. */
function poolHashes(nodes: readonly NodeHash[], pool: PoolName): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of nodes) if (n.pool === pool && n.hash !== null) out[n.node] = n.hash
  return out
}

function short(hash: string): string {
  return hash.slice(0, 12)
}

/**
 * The drifts in a new reading. `watching`: a rollout runs or y's share is between 0 and 100
 * (a change outside that is an operator's config push between upgrades, not a drift).
 * A drift that persists is found again on each reading; the shell says it once (driftKey).
 */
export function findDrifts(prev: readonly NodeHash[], next: readonly NodeHash[], watching: boolean): Drift[] {
  if (!watching) return []
  const out: Drift[] = []
  for (const pool of ['x', 'y'] as const) {
    const hashes = poolHashes(next, pool)
    const distinct = new Set(Object.values(hashes))
    if (distinct.size > 1) {
      const list = Object.entries(hashes)
        .map(([node, h]) => `${node} ${short(h)}`)
        .join(', ')
      out.push({ kind: 'pool_disagrees', pool, hashes, reason: `config drift: the nodes of pool ${pool} serve different configs (${list})` })
    }
  }
  const before = new Map(prev.map((n) => [`${n.pool}/${n.node}`, n.hash]))
  for (const n of next) {
    const was = before.get(`${n.pool}/${n.node}`)
    if (was == null || n.hash === null || was === n.hash) continue
    out.push({
      kind: 'hash_changed',
      pool: n.pool,
      node: n.node,
      from: was,
      to: n.hash,
      reason: `config drift: node ${n.node} of pool ${n.pool} changed its config during the upgrade (${short(was)} -> ${short(n.hash)})`,
    })
  }
  return out
}

/** A signature of a drift, so one that persists is reported and acted on once. */
export function driftKey(d: Drift): string {
  return d.kind === 'pool_disagrees'
    ? `${d.kind}:${d.pool}:${Object.entries(d.hashes)
        .sort()
        .map(([n, h]) => `${n}=${h}`)
        .join(',')}`
    : `${d.kind}:${d.pool}:${d.node}:${d.to}`
}

/**
 * Why a rollout may not start: x and y serve different configs (Kong's guide: both
 * clusters must serve the same config for the whole upgrade). null when they agree or a
 * pool's hash is not known.
 */
export function startRefusal(nodes: readonly NodeHash[]): string | null {
  const x = new Set(Object.values(poolHashes(nodes, 'x')))
  const y = new Set(Object.values(poolHashes(nodes, 'y')))
  if (x.size === 0 || y.size === 0) return null
  const same = x.size === 1 && y.size === 1 && [...x][0] === [...y][0]
  if (same) return null
  return `x and y serve different configs: x configuration_hash ${[...x].join(', ')}, y ${[...y].join(', ')}; push the same kong.yml to both (or start with force: true)`
}
