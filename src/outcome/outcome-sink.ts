/**
 * The outcome contract: what the data path reports about each request, to metrics, gate
 * windows, passive health, the console's history and (with workers) the IPC batcher. It
 * sits below all of them, so none imports another's folder to speak it.
 */

import type { PoolName } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'

/** Why an attempt got no usable answer; the `kind` label of cutover_upstream_errors_total. */
export const FAILURE_KINDS = ['connect', 'reset', 'timeout', 'protocol'] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]

/**
 * Why cutover refused a client request itself; the `reason` label of cutover_requests_refused_total.
 * The h2_ ones end a whole HTTP/2 session that flooded cutover (src/h2/flood-guard.ts);
 * proxy_protocol closes a connection without a valid PROXY header (proxy.proxy_protocol).
 */
export const REFUSAL_REASONS = [
  'framing',
  'head_too_large',
  'header_timeout',
  'h2_rapid_reset',
  'h2_ping_flood',
  'h2_settings_flood',
  'h2_continuation_flood',
  'h2_flood',
  'h2_protocol_error',
  'proxy_protocol',
] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/** The protocol a client spoke; the `protocol` label of cutover_protocol_requests_total. */
export const PROTOCOLS = ['http1', 'h2'] as const
export type Protocol = (typeof PROTOCOLS)[number]

/**
 * The listener of a node an attempt went to: http1 (its url) or h2 (its h2 address, Kong's
 * separate http2 port). Passive health ejects each on its own.
 */
export type Listener = Protocol

/** `grpc` of an outcome that is not a gRPC call (or one that ended without a grpc-status). */
export const NO_GRPC = -1

/**
 * Whether an answer counts as an error for the gates: a 5xx, or a gRPC call whose
 * grpc-status is in the configured failure set (gates.grpc_failures; it usually comes
 * with HTTP 200, so the status alone would call it a success).
 */
export function isFailedAnswer(status: number, grpcFailed = false): boolean {
  return status >= 500 || grpcFailed
}

/**
 * One consumer of outcomes. It implements only the methods it needs; the fan-out calls
 * nothing else. Implementations must be O(1) and allocation-free: they run per request.
 */
export interface OutcomeSink {
  /** A request was sent to node (in flight from now). */
  attemptStarted?(node: UpstreamNode): void
  /** The attempt on node failed with no answer; it may be retried on another node. listener: absent, http1. */
  attemptFailed?(node: UpstreamNode, kind: FailureKind, listener?: Listener): void
  /**
   * node answered with status; ms from the client's request to the response headers.
   * For a gRPC call it is reported once the call's grpc-status is known (trailers, or a
   * trailers-only answer), with grpcFailed set when that status is a failure (see isFailedAnswer).
   * listener: the node's listener that answered (absent: http1).
   */
  answered?(node: UpstreamNode, status: number, ms: number, grpcFailed?: boolean, listener?: Listener): void
  /** The attempt on node is over (answered and streamed, or failed): no longer in flight. */
  attemptEnded?(node: UpstreamNode): void
  /**
   * The client's request is over. pool: the pool that served it (or was picked, for
   * cutover's own errors); status: what the client got (cutover's 502/503/504 included).
   * protocol: what the client spoke (absent: http1); grpc: the call's grpc-status, or
   * NO_GRPC (absent) when it was no gRPC call or ended without one.
   */
  finished?(pool: PoolName, status: number, ms: number, protocol?: Protocol, grpc?: number): void
  /**
   * Why an attempt on node failed, in words (forwarding/failure-log.ts): reported as often
   * as the log line is written (at most every 10 s per node and failure), not per request.
   */
  failureExplained?(node: UpstreamNode, kind: FailureKind, why: string): void
}

/** What the data path reports to: every method present (a fan-out of sinks, see fan-out.ts). */
export type OutcomeReport = Required<OutcomeSink>
