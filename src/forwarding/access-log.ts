/**
 * The access log: off unless `log.access` is on, and then sampled (`log.access_sample`),
 * so that logging never becomes the cost of proxying. One pino line per logged request.
 */

import type { Logger } from 'pino'
import type { Random } from '../clock.js'
import type { PoolName } from '../config/types.js'
import { headValue, type RequestHead } from '../http1/index.js'

export interface AccessEntry {
  method: string
  /** the request-target as sent */
  path: string
  host: string | undefined
  /** the client's address */
  client: string | undefined
  pool: PoolName
  /** host:port of the last node tried; null when none was (cutover's own 503/413) */
  node: string | null
  status: number
  /** ms from the request's arrival to the response head */
  ms: number
  attempts: number
  /** absent: http1 (issue 12) */
  protocol?: 'http1' | 'h2'
  /** a gRPC call's grpc-status (issue 12) */
  grpc_status?: number
}

export class AccessLog {
  readonly #logger: Logger
  readonly #sample: number
  readonly #random: Random

  constructor(logger: Logger, sample: number, random: Random) {
    this.#logger = logger
    this.#sample = sample
    this.#random = random
  }

  /** Log the request with probability `sample`; the decision costs one random draw. */
  record(entry: AccessEntry): void {
    if (this.#random() >= this.#sample) return
    this.#logger.info(
      {
        access: true,
        method: entry.method,
        path: entry.path,
        host: entry.host,
        client: entry.client,
        pool: entry.pool,
        node: entry.node,
        status: entry.status,
        ms: Math.round(entry.ms * 1000) / 1000,
        attempts: entry.attempts,
        protocol: entry.protocol ?? 'http1',
        ...(entry.grpc_status !== undefined && { grpc_status: entry.grpc_status }),
      },
      'access',
    )
  }
}

/** An HTTP/1.x request's line in the access log (when it is on): an exchange's, or an upgrade's (its 101, or the node's answer declining it). */
export function recordRequest(access: AccessLog | undefined, head: RequestHead, client: string | undefined, pool: PoolName, node: string | null, status: number, ms: number, attempts: number): void {
  if (access === undefined) return
  access.record({ method: head.method, path: head.target, host: head.hostIndex >= 0 ? headValue(head, head.hostIndex >> 1) : undefined, client, pool, node, status, ms, attempts })
}
