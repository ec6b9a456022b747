/**
 * The set of upstream nodes per pool, kept across reloads: a node that stays keeps its
 * object (and so its connections, counters and health); an added node is new; a removed
 * node takes no new requests and its connection pool closes once its in-flight requests
 * are done.
 */

import type { Config, NodeConfig, PoolName } from '../config/types.js'
import { POOLS } from '../config/types.js'
import { UpstreamNode } from './node.js'

export interface Reconciled {
  added: UpstreamNode[]
  removed: UpstreamNode[]
}

function keyOf(pool: PoolName, node: NodeConfig): string {
  return `${pool} ${node.url} ${node.weight} ${node.name}`
}

export class Upstreams {
  #nodes: Record<PoolName, UpstreamNode[]> = { x: [], y: [] }
  readonly #closing = new Set<Promise<void>>()

  constructor(config: Config) {
    this.reconcile(config)
  }

  /** The live nodes of each pool (removed ones excluded). */
  get nodes(): Readonly<Record<PoolName, readonly UpstreamNode[]>> {
    return this.#nodes
  }

  /** Requests in flight to each pool's nodes now. */
  inflightByPool(): Record<PoolName, number> {
    const counts = { x: 0, y: 0 }
    for (const pool of POOLS) for (const node of this.#nodes[pool]) counts[pool] += node.inflight
    return counts
  }

  /** Bring the node set to the config's; returns what was added and removed. */
  reconcile(config: Config): Reconciled {
    const old = new Map<string, UpstreamNode>()
    for (const pool of POOLS) for (const node of this.#nodes[pool]) old.set(keyOf(pool, node.config), node)
    const next: Record<PoolName, UpstreamNode[]> = { x: [], y: [] }
    const added: UpstreamNode[] = []
    const options = {
      connectTimeout: config.proxy.connect_timeout,
      headersTimeout: config.proxy.request_timeout,
      maxConnections: config.proxy.upstream_max_connections,
      idleTimeout: config.proxy.upstream_keepalive_timeout,
    }
    for (const pool of POOLS) {
      for (const nodeConfig of config.pools[pool].nodes) {
        const key = keyOf(pool, nodeConfig)
        let node = old.get(key)
        if (node) {
          old.delete(key)
          // a node that stays keeps its connections, with the reloaded timeouts and cap
          node.dispatcher.configure(options)
        } else {
          node = new UpstreamNode(pool, nodeConfig, options)
          added.push(node)
        }
        next[pool].push(node)
      }
    }
    const removed = [...old.values()]
    this.#nodes = next
    for (const node of removed) this.#retire(node)
    return { added, removed }
  }

  /** Close every connection pool; in-flight requests are cut when force is set. */
  async close(force = false): Promise<void> {
    const all = [...this.#nodes.x, ...this.#nodes.y]
    this.#nodes = { x: [], y: [] }
    await Promise.allSettled(all.map((node) => (force ? node.dispatcher.destroy() : node.dispatcher.close())))
    await Promise.allSettled([...this.#closing])
  }

  #retire(node: UpstreamNode): void {
    node.removed = true
    // idle connections close now, busy ones once their exchange is over
    const done = node.dispatcher.close().catch(() => undefined)
    this.#closing.add(done)
    void done.then(() => this.#closing.delete(done))
  }
}
