/**
 * One upstream node (a Kong node) at run time: its config, its connection pool and the
 * figures routing reads on every request. Health fields are written by src/health only.
 */

import type { NodeConfig, PoolName } from '../config/types.js'
import { NodePool, type NodePoolOptions } from './node-pool.js'

export type { NodePoolOptions } from './node-pool.js'

export class UpstreamNode {
  readonly pool: PoolName
  readonly config: NodeConfig
  /** host:port, the metric label */
  readonly name: string
  readonly weight: number
  /** the connections to this node; closed when the node is removed */
  readonly dispatcher: NodePool
  /** requests sent to this node and not finished */
  inflight = 0
  /** active probe verdict: true healthy, false unhealthy, null no verdict yet */
  healthy: boolean | null = null
  /** ms epoch until which passive ejection keeps it out; 0 when not ejected */
  ejectedUntil = 0
  /** the same for the node's h2 listener alone (issue 12: its own port, failing on its own) */
  h2EjectedUntil = 0
  /** set when a reload removed it: no new requests, in-flight ones finish */
  removed = false
  /** the HTTP/1.1 agent that h2 clients' streams to this node's url go through (src/h2/h2-nodes.ts), once made */
  h2Agent: { readonly requests: NodeJS.ReadOnlyDict<readonly { readonly destroyed: boolean }[]> } | null = null
  /** the node's h2 session pool (its h2 address; src/h2/h2-nodes.ts), once made: streams wait there at upstream_max_connections */
  h2Sessions: { readonly waiting: number } | null = null

  constructor(pool: PoolName, config: NodeConfig, options: NodePoolOptions) {
    this.pool = pool
    this.config = config
    this.name = config.name
    this.weight = config.weight
    this.dispatcher = new NodePool(config, options)
  }

  /** Requests waiting for a connection at upstream_max_connections: HTTP/1.1 clients', h2 clients' for an HTTP/1.1 socket and for an h2 session. */
  get waiting(): number {
    let n = this.dispatcher.waiting + (this.h2Sessions?.waiting ?? 0)
    const agent = this.h2Agent
    // a request given up while in line stays there (destroyed) until a socket comes free
    if (agent !== null) for (const line of Object.values(agent.requests)) for (const req of line ?? []) if (!req.destroyed) n++
    return n
  }
}
