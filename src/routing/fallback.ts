/**
 * Where a failed attempt goes next (SPEC 4.3, 4.4): the one fallback policy, shared by the
 * forwarder and the WebSocket tunnel. Pure: the failure, what was tried and the pools'
 * state in, a node or none out.
 */

import type { Random } from '../clock.js'
import type { PoolName } from '../config/types.js'
import type { FailureKind } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'
import { pickNode } from './node-pick.js'
import type { RoutingTable } from './table.js'

/** Methods that may be sent twice (RFC 9110 idempotent, minus TRACE). */
export function isIdempotent(method: string | undefined): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
      return true
    default:
      return false
  }
}

/**
 * May an attempt that failed with kind be tried on another node? Connect failures always;
 * resets only for idempotent methods whose body was not sent yet; never anything else.
 */
export function isRetryable(kind: FailureKind, idempotent: boolean, bodySent: boolean): boolean {
  if (kind === 'connect') return true
  return kind === 'reset' && idempotent && !bodySent
}

function other(pool: PoolName): PoolName {
  return pool === 'x' ? 'y' : 'x'
}

/** The first choice: a usable node of pool, else of the other pool, never one in exclude. */
export function firstNode(table: RoutingTable, pool: PoolName, random: Random, exclude?: UpstreamNode | readonly UpstreamNode[]): UpstreamNode | undefined {
  return pickNode(table[pool], random, exclude) ?? pickNode(table[other(pool)], random, exclude)
}

/**
 * For a stream only a node's h2 listener can take (gRPC): exclude plus the nodes of table
 * that have no h2 listener or whose h2 listener is ejected at now; exclude itself when
 * there are none (no allocation).
 */
export function withClosedH2(table: RoutingTable, now: number, exclude: readonly UpstreamNode[]): readonly UpstreamNode[] {
  const out = addClosedH2(table.y.nodes, now, exclude, addClosedH2(table.x.nodes, now, exclude, undefined))
  return out ?? exclude
}

/** node cannot take a stream only an h2 listener can (gRPC) at now: it has none, or it is ejected */
export function h2Closed(node: UpstreamNode, now: number): boolean {
  return node.config.h2 === undefined || node.h2EjectedUntil > now
}

function addClosedH2(nodes: readonly UpstreamNode[], now: number, exclude: readonly UpstreamNode[], out: UpstreamNode[] | undefined): UpstreamNode[] | undefined {
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!
    if (h2Closed(n, now) && !exclude.includes(n)) (out ??= exclude.slice()).push(n)
  }
  return out
}

export interface Failure {
  /** the node whose attempt just failed */
  failed: UpstreamNode
  kind: FailureKind
  /** attempts made so far, the failed one included */
  attempts: number
  /** every node tried so far, the failed one included */
  tried: readonly UpstreamNode[]
  idempotent: boolean
  /** some of the request's body already went to a node */
  bodySent: boolean
}

export interface PoolsState {
  table: RoutingTable
  /** every configured node, usable or not: the last resort; absent, retries stay on usable nodes */
  all: Readonly<Record<PoolName, readonly UpstreamNode[]>> | undefined
  /** proxy.retries */
  retries: number
  random: Random
}

/**
 * The node for the next attempt, or undefined when none is allowed or left. Another usable
 * node of the failed one's pool first, else of the other pool; the last retry tries the
 * other pool first (when a whole pool goes down at once its nodes all still look usable
 * until ejection catches up, whether the first failure was a refused connect or a reset
 * of a request already in flight); when every usable node failed,
 * a configured one that is ejected or unhealthy (Envoy's panic routing, retries only).
 */
export function nextNode(f: Failure, s: PoolsState): UpstreamNode | undefined {
  if (f.attempts > s.retries) return undefined
  if (!isRetryable(f.kind, f.idempotent, f.bodySent)) return undefined
  const last = f.attempts === s.retries
  const pool = last ? other(f.failed.pool) : f.failed.pool
  return firstNode(s.table, pool, s.random, f.tried) ?? lastResort(s.all, f.failed.pool, f.tried)
}

/** The least loaded configured node per weight, of pool then the other, not yet tried. */
function lastResort(all: PoolsState['all'], pool: PoolName, tried: readonly UpstreamNode[]): UpstreamNode | undefined {
  if (all === undefined) return undefined
  return leastLoaded(all[pool], tried) ?? leastLoaded(all[other(pool)], tried)
}

/** Weighted like node-pick: fewer requests in flight per unit of weight wins. */
function leastLoaded(nodes: readonly UpstreamNode[], tried: readonly UpstreamNode[]): UpstreamNode | undefined {
  let best: UpstreamNode | undefined
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]
    if (n.weight <= 0 || n.removed || tried.includes(n)) continue
    if (best === undefined || n.inflight * best.weight < best.inflight * n.weight) best = n
  }
  return best
}
