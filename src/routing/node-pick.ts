/**
 * Which node of a pool serves a request (SPEC 4.2): power of two choices, each drawn by
 * weight, keeping the one with fewer requests in flight per unit of weight.
 */

import type { Random } from '../clock.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { NodeSet } from './table.js'

const DRAWS = 4

/** Pick a node of set, never one in exclude; undefined when none is left. O(log n), no allocation. */
export function pickNode(set: NodeSet, random: Random, exclude?: UpstreamNode | readonly UpstreamNode[]): UpstreamNode | undefined {
  const nodes = set.nodes
  if (nodes.length === 0) return undefined
  if (nodes.length === 1) return isExcluded(nodes[0], exclude) ? undefined : nodes[0]
  let first = -1
  for (let i = 0; i < DRAWS && first < 0; i++) {
    const at = drawIndex(set, random)
    if (!isExcluded(nodes[at], exclude)) first = at
  }
  // the draws keep hitting excluded nodes: most are excluded, look at all of them
  if (first < 0) return scan(set, exclude)
  const second = drawIndex(set, random)
  if (second === first || isExcluded(nodes[second], exclude)) return nodes[first]
  // the second wins only when strictly less loaded per unit of weight, so idle nodes share exactly by weight
  const w = set.weights
  return nodes[second].inflight * w[first] < nodes[first].inflight * w[second] ? nodes[second] : nodes[first]
}

/** Index of the node a uniform draw over the cumulative weights falls on. */
function drawIndex(set: NodeSet, random: Random): number {
  const c = set.cumulative
  const r = random() * set.total
  let lo = 0
  let hi = c.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (c[mid] > r) hi = mid
    else lo = mid + 1
  }
  return lo
}

function isExcluded(node: UpstreamNode, exclude: UpstreamNode | readonly UpstreamNode[] | undefined): boolean {
  if (exclude === undefined) return false
  if (exclude === node) return true
  if (Array.isArray(exclude)) {
    for (let i = 0; i < exclude.length; i++) if (exclude[i] === node) return true
  }
  return false
}

/** The least loaded node per weight that is not excluded. */
function scan(set: NodeSet, exclude: UpstreamNode | readonly UpstreamNode[] | undefined): UpstreamNode | undefined {
  const nodes = set.nodes
  const w = set.weights
  let best = -1
  for (let i = 0; i < nodes.length; i++) {
    if (isExcluded(nodes[i], exclude)) continue
    if (best < 0 || nodes[i].inflight * w[best] < nodes[best].inflight * w[i]) best = i
  }
  return best < 0 ? undefined : nodes[best]
}
