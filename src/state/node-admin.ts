/**
 * Operators' runtime changes to single nodes (issue 14): drain, maint, ready and a runtime
 * weight, kept in the live state so they survive restarts and reach a fleet through its
 * shared state. Pure functions of the state; the StateController serialises and writes.
 *
 * Which wins against the config: the runtime change. A reload of the config keeps a
 * node's admin state and runtime weight until `ready` (admin) or `weight: null` (weight);
 * /v1/state shows both with `weight_source: "runtime" | "config"`.
 */

import { CutoverError } from '../errors.js'
import { POOLS, type PoolName } from '../config/types.js'
import type { AdminState, LiveState, NodeAdmin, NodeAdminState } from './types.js'

/** Largest runtime weight, as for a node's weight in the config. */
export const MAX_NODE_WEIGHT = 1000

/** PUT /v1/nodes/{pool}/{node}: at least one of admin and weight; weight null resets it. */
export interface NodeChangeRequest {
  admin?: AdminState
  weight?: number | null
  /** allow taking the last usable node of a pool with a share above 0 out of traffic */
  force?: boolean
}

/** What the rule against emptying a serving pool needs to know at the time the change runs. */
export interface NodeChangeContext {
  /** ISO time of the change */
  at: string
  /** whether the pool has a share above 0 in the state being changed */
  poolServes: boolean
  /** whether the node takes new requests now (health and admin state) */
  usableNow: boolean
  /** how many other nodes of its pool take new requests now */
  othersUsable: number
}

/** The node's runtime change, if it has one. */
export function nodeAdminOf(state: Readonly<LiveState>, pool: PoolName, name: string): NodeAdmin | undefined {
  const byName = state.nodes?.[pool]
  return byName && Object.hasOwn(byName, name) ? byName[name] : undefined
}

/** The node's admin state: ready unless an operator said otherwise. */
export function adminStateOf(state: Readonly<LiveState>, pool: PoolName, name: string): AdminState {
  return nodeAdminOf(state, pool, name)?.admin ?? 'ready'
}

/** The weight routing uses: the runtime one when set, else the config's. */
export function effectiveWeight(state: Readonly<LiveState>, pool: PoolName, name: string, configWeight: number): number {
  return nodeAdminOf(state, pool, name)?.weight ?? configWeight
}

/**
 * The state after a node change, or null when it changes nothing. Refuses with
 * CUTOVER_ERR_LAST_NODE (409) to take the last usable node of a serving pool out of
 * traffic without `force`: its share would silently move to the other pool.
 */
export function changeNode(state: Readonly<LiveState>, pool: PoolName, name: string, req: NodeChangeRequest, ctx: NodeChangeContext): LiveState | null {
  const prev = nodeAdminOf(state, pool, name)
  const admin = req.admin ?? prev?.admin ?? 'ready'
  const weight = req.weight === undefined ? (prev?.weight ?? null) : req.weight
  if (admin === (prev?.admin ?? 'ready') && weight === (prev?.weight ?? null)) return null
  const leaving = admin !== 'ready' && (prev?.admin ?? 'ready') === 'ready'
  if (leaving && ctx.poolServes && ctx.usableNow && ctx.othersUsable === 0 && req.force !== true) {
    throw new CutoverError(
      'CUTOVER_ERR_LAST_NODE',
      `${pool}/${name} is the last usable node of pool ${pool}, which has a share above 0: ${admin} would send all of ${pool}'s traffic to the other pool; set the split first, or repeat with "force": true`,
    )
  }
  const nodes: NodeAdminState = {}
  for (const p of POOLS) {
    const byName = state.nodes?.[p]
    if (byName) nodes[p] = { ...byName }
  }
  const byName = (nodes[pool] ??= {})
  if (admin === 'ready' && weight === null) delete byName[name]
  else byName[name] = { admin, weight, at: ctx.at }
  if (Object.keys(byName).length === 0) delete nodes[pool]
  const next: LiveState = { ...state, nodes }
  if (Object.keys(nodes).length === 0) delete next.nodes
  return next
}

/** The event details of a node change: what it was and what it is. */
export function nodeChangeDetails(prev: Readonly<LiveState>, next: Readonly<LiveState>, pool: PoolName, name: string, configWeight: number): Record<string, unknown> {
  const before = nodeAdminOf(prev, pool, name)
  const after = nodeAdminOf(next, pool, name)
  return {
    pool,
    node: name,
    from: before?.admin ?? 'ready',
    to: after?.admin ?? 'ready',
    weight_from: before?.weight ?? configWeight,
    weight_to: after?.weight ?? configWeight,
    weight_source: after?.weight == null ? 'config' : 'runtime',
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Validate the `nodes` of a state file: the value, or a string naming the bad field. */
export function parseNodeAdminState(data: unknown): NodeAdminState | string {
  if (!isObject(data)) return 'nodes: not an object'
  const out: NodeAdminState = {}
  for (const [pool, byName] of Object.entries(data)) {
    if (pool !== 'x' && pool !== 'y') return `nodes.${pool}: not a pool (x or y)`
    if (!isObject(byName)) return `nodes.${pool}: not an object`
    const entries: Record<string, NodeAdmin> = {}
    for (const [name, entry] of Object.entries(byName)) {
      const at = `nodes.${pool}.${name}`
      if (!isObject(entry)) return `${at}: not an object`
      if (entry.admin !== 'ready' && entry.admin !== 'drain' && entry.admin !== 'maint') return `${at}.admin: not ready, drain or maint`
      const w = entry.weight
      if (w !== null && !(typeof w === 'number' && w > 0 && w <= MAX_NODE_WEIGHT)) return `${at}.weight: not null or a number above 0 and at most ${MAX_NODE_WEIGHT}`
      if (typeof entry.at !== 'string' || Number.isNaN(Date.parse(entry.at))) return `${at}.at: not an ISO time`
      entries[name] = { admin: entry.admin, weight: w, at: entry.at }
    }
    out[pool] = entries
  }
  return out
}
