/**
 * One upstream node (a Kong node) at run time: its config, its connection pool and the
 * figures routing reads on every request. Health fields are written by src/health only.
 */

import { Pool } from 'undici'
import type { NodeConfig, PoolName } from '../config/types.js'

export interface NodePoolOptions {
  connectTimeout: number
  /** until the upstream's response headers arrive (proxy.request_timeout) */
  headersTimeout: number
}

export class UpstreamNode {
  readonly pool: PoolName
  readonly config: NodeConfig
  /** host:port, the metric label */
  readonly name: string
  readonly weight: number
  /** undici connection pool to this node; closed when the node is removed */
  readonly dispatcher: Pool
  /** requests sent to this node and not finished */
  inflight = 0
  /** active probe verdict: true healthy, false unhealthy, null no verdict yet */
  healthy: boolean | null = null
  /** ms epoch until which passive ejection keeps it out; 0 when not ejected */
  ejectedUntil = 0
  /** set when a reload removed it: no new requests, in-flight ones finish */
  removed = false

  constructor(pool: PoolName, config: NodeConfig, options: NodePoolOptions) {
    this.pool = pool
    this.config = config
    this.name = config.name
    this.weight = config.weight
    this.dispatcher = new Pool(config.origin, {
      connections: null,
      pipelining: 1,
      connectTimeout: options.connectTimeout,
      headersTimeout: options.headersTimeout,
      bodyTimeout: 0,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 600_000,
      strictContentLength: true,
    })
  }
}
