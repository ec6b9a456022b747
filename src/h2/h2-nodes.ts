/**
 * What the h2 data path keeps per node: its h2 session pool (a node with an h2 address)
 * and its HTTP/1.1 agent (for h2 streams sent to its url). Made on first use, replaced
 * when a reload changes the node's h2 address, closed with the listener.
 */

import type http from 'node:http'
import type { Clock } from '../clock.js'
import type { Config } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'
import { h1Agent, moveQueued, setKeepAlive, setMaxSockets } from './h1-attempt.js'
import { NodeSessionPool, type SessionPoolOptions } from './node-session-pool.js'

/** ms an h2 session to a node may stay without streams */
const SESSION_IDLE = 30_000

export class H2Nodes {
  readonly #clock: Clock
  #proxy: Config['proxy']
  readonly #pools = new Map<UpstreamNode, NodeSessionPool>()
  readonly #agents = new Map<UpstreamNode, http.Agent>()

  constructor(proxy: Config['proxy'], clock: Clock) {
    this.#proxy = proxy
    this.#clock = clock
  }

  /** New timeouts and caps for sessions, and the agents' keep-alive, from now on. */
  configure(proxy: Config['proxy']): void {
    this.#proxy = proxy
    const options = this.#options()
    for (const pool of this.#pools.values()) pool.options = options
    // as the HTTP/1.1 engine's connection pools (src/upstream/upstreams.ts)
    for (const agent of this.#agents.values()) {
      setKeepAlive(agent, proxy.upstream_keepalive_timeout)
      setMaxSockets(agent, proxy.upstream_max_connections)
    }
  }

  /** node's h2 session pool; undefined when the node has no h2 address. */
  sessions(node: UpstreamNode): NodeSessionPool | undefined {
    const address = node.config.h2
    if (address === undefined) return undefined
    let pool = this.#pools.get(node)
    if (pool !== undefined && pool.address.url !== address.url) {
      void pool.close()
      pool = undefined
    }
    if (pool === undefined) {
      pool = new NodeSessionPool(address, this.#options(), this.#clock)
      this.#pools.set(node, pool)
      node.h2Sessions = pool
    }
    return pool
  }

  /** node's HTTP/1.1 agent. */
  agent(node: UpstreamNode): http.Agent {
    let agent = this.#agents.get(node)
    if (agent === undefined) {
      agent = h1Agent(node.config, this.#proxy.upstream_max_connections, this.#proxy.upstream_keepalive_timeout)
      this.#agents.set(node, agent)
      node.h2Agent = agent
    }
    return agent
  }

  /** node must take no more traffic: the streams in line for its HTTP/1.1 agent's sockets, or for an h2 session at the cap, go elsewhere. */
  moveQueued(node: UpstreamNode): void {
    const agent = this.#agents.get(node)
    if (agent !== undefined) moveQueued(agent)
    this.#pools.get(node)?.moveWaiting()
  }

  /** Close sessions of nodes a reload removed (their streams finish first). */
  prune(): void {
    for (const [node, pool] of this.#pools) {
      if (node.removed) {
        this.#pools.delete(node)
        node.h2Sessions = null
        void pool.close()
      }
    }
    for (const [node, agent] of this.#agents) {
      if (node.removed) {
        this.#agents.delete(node)
        node.h2Agent = null
        retire(agent)
      }
    }
  }

  /** GOAWAY every session (force: cut them) and close the agents. */
  async close(force = false): Promise<void> {
    const pools = [...this.#pools.values()]
    for (const node of this.#pools.keys()) node.h2Sessions = null
    this.#pools.clear()
    for (const [node, agent] of this.#agents) {
      node.h2Agent = null
      agent.destroy()
    }
    this.#agents.clear()
    if (force) for (const p of pools) p.destroy()
    await Promise.all(pools.map((p) => p.close()))
  }

  #options(): SessionPoolOptions {
    const p = this.#proxy
    return { connectTimeout: p.connect_timeout, maxSessions: p.upstream_max_connections, idleTimeout: SESSION_IDLE, maxHeaderListSize: 64 * 1024 }
  }
}

/**
 * An agent of a node a reload removed: its idle sockets close now, the busy ones once their
 * answer is over (a keep-alive agent would keep them). Destroying it would cut the answers
 * in flight: read as resets before any response byte, their GETs went to another node
 * after this one had them.
 */
function retire(agent: http.Agent): void {
  // node:http's own field (not in its typings), read when a socket's answer is over: false, the socket is destroyed
  ;(agent as http.Agent & { keepAlive: boolean }).keepAlive = false
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}
