/** What a probe is (the HTTP one in prober.ts, the gRPC one in grpc-probe.ts) and how its socket errors read. */

import type { ActiveHealthConfig } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { ProbeResult } from './probe-state.js'

/** Probe one node once; must settle, and should stop its I/O when signal aborts. */
export type ProbeFn = (node: UpstreamNode, config: ActiveHealthConfig, signal: AbortSignal) => Promise<ProbeResult>

/** Probe text for a socket error code. */
export function describeProbeError(err: unknown, timeout: number, aborted: boolean): string {
  if (aborted) return `timeout after ${timeout}ms`
  const code = (err as NodeJS.ErrnoException | null)?.code
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset'
    case 'ETIMEDOUT':
      return `timeout after ${timeout}ms`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    default:
      return code ?? (err instanceof Error ? err.message : String(err))
  }
}
