/**
 * The routing table: what pool pick and node pick read on every request. It is rebuilt
 * when the split, the node set or node health changes, never per request.
 */

import type { Config, PoolName, StickyConfig } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'

/** The usable nodes of one pool with their cumulative weights, for a weighted draw. */
export interface NodeSet {
  readonly nodes: readonly UpstreamNode[]
  /** weights[i]: the weight nodes[i] is drawn by (an operator's runtime weight, else the config's) */
  readonly weights: Float64Array
  /** cumulative[i] = weight of nodes[0..i] */
  readonly cumulative: Float64Array
  /** sum of the weights; 0 when no node is usable */
  readonly total: number
}

export interface RoutingTable {
  /** share of y in basis points: y * 100, an integer 0..10000 */
  readonly yBasisPoints: number
  readonly x: NodeSet
  readonly y: NodeSet
  readonly sticky?: StickyConfig
  /** lower-cased header name */
  readonly overrideHeader?: string
  /** lower-cased sticky header name, or the cookie name, precomputed */
  readonly stickyHeader?: string
  readonly stickyCookie?: string
}

/** A holder the lead swaps a new table into on every change. */
export interface Router {
  table: RoutingTable
}

/** A node's weight for routing; the default is the config's. */
export type WeightOf = (node: UpstreamNode) => number

const configWeight: WeightOf = (node) => node.weight

/**
 * Build the usable node set of one pool. isUsable folds in health and an operator's
 * drain or maint; weightOf an operator's runtime weight (both from the control plane).
 */
export function buildNodeSet(nodes: readonly UpstreamNode[], isUsable: (node: UpstreamNode) => boolean, weightOf: WeightOf = configWeight): NodeSet {
  const usable: UpstreamNode[] = []
  const w: number[] = []
  for (const n of nodes) {
    const weight = weightOf(n)
    if (weight > 0 && isUsable(n)) {
      usable.push(n)
      w.push(weight)
    }
  }
  const weights = Float64Array.from(w)
  const cumulative = new Float64Array(usable.length)
  let total = 0
  for (let i = 0; i < usable.length; i++) {
    total += weights[i]
    cumulative[i] = total
  }
  return Object.freeze({ nodes: Object.freeze(usable), weights, cumulative, total })
}

/** Build the table for share y (0..100) of pool y from the nodes and their health. */
export function buildRoutingTable(
  y: number,
  nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>,
  isUsable: (node: UpstreamNode) => boolean,
  split: Config['split'],
  weightOf: WeightOf = configWeight,
): RoutingTable {
  const yBasisPoints = Math.min(10000, Math.max(0, Math.round(y * 100)))
  const sticky = split.sticky
  return Object.freeze({
    yBasisPoints,
    x: buildNodeSet(nodes.x, isUsable, weightOf),
    y: buildNodeSet(nodes.y, isUsable, weightOf),
    sticky,
    overrideHeader: split.override_header?.toLowerCase(),
    stickyHeader: sticky?.header?.toLowerCase(),
    stickyCookie: sticky?.cookie,
  })
}
