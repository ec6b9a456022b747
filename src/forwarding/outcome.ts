/**
 * What the forwarder reports about each request, for metrics, gate windows and passive
 * health. Implementations must be O(1) and allocation-free: they run on the hot path.
 */

import type { PoolName } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'

/** Why an attempt got no usable answer; the `kind` label of cutover_upstream_errors_total. */
export type FailureKind = 'connect' | 'reset' | 'timeout' | 'protocol'

export interface OutcomeSink {
  /** A request was sent to node (in flight from now). */
  attemptStarted(node: UpstreamNode): void
  /** The attempt on node failed with no answer; it may be retried on another node. */
  attemptFailed(node: UpstreamNode, kind: FailureKind): void
  /** node answered with status; ms from the client's request to the response headers. */
  answered(node: UpstreamNode, status: number, ms: number): void
  /** The attempt on node is over (answered and streamed, or failed): no longer in flight. */
  attemptEnded(node: UpstreamNode): void
  /**
   * The client's request is over. pool: the pool that served it (or was picked, for
   * cutover's own errors); status: what the client got (cutover's 502/503/504 included).
   */
  finished(pool: PoolName, status: number, ms: number): void
}

/** Fans one outcome out to several sinks. */
export function fanOut(sinks: OutcomeSink[]): OutcomeSink {
  if (sinks.length === 1) return sinks[0]
  return {
    attemptStarted(node) {
      for (let i = 0; i < sinks.length; i++) sinks[i].attemptStarted(node)
    },
    attemptFailed(node, kind) {
      for (let i = 0; i < sinks.length; i++) sinks[i].attemptFailed(node, kind)
    },
    answered(node, status, ms) {
      for (let i = 0; i < sinks.length; i++) sinks[i].answered(node, status, ms)
    },
    attemptEnded(node) {
      for (let i = 0; i < sinks.length; i++) sinks[i].attemptEnded(node)
    },
    finished(pool, status, ms) {
      for (let i = 0; i < sinks.length; i++) sinks[i].finished(pool, status, ms)
    },
  }
}
