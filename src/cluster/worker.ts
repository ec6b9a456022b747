/**
 * A worker process: one data plane serving the shared proxy port. It reads no config file
 * and decides nothing: config, split and node usability come from the primary; outcomes and
 * metrics go back to it. When the primary goes away, the worker drains and exits.
 */

import pino, { type Logger } from 'pino'
import type { Clock, Random, TimerHandle } from '../clock.js'
import { POOLS, type Config } from '../config/types.js'
import type { DataPlane } from '../data-plane.js'
import { createDataPlane } from '../data-plane-wiring.js'
import { Metrics } from '../metrics/metrics.js'
import { type AttachedShadow, attachShadow } from '../shadow/attach.js'
import { ShadowBatcher } from '../shadow/batcher.js'
import type { UpstreamNode } from '../upstream/node.js'
import { Upstreams } from '../upstream/upstreams.js'
import { OutcomeBatcher } from './outcome-batcher.js'
import type { H2Until, ToPrimary, ToWorker, Usable, Weights } from './messages.js'

/** How often outcomes go to the primary: the gates see a worker's traffic this much later. */
export const FLUSH_EVERY_MS = 50

function send(message: ToPrimary): void {
  if (process.connected) process.send?.(message)
}

/** Run as a cluster worker until told to drain (or orphaned); resolves with the exit status. */
export function runWorker(clock: Clock, random: Random): Promise<number> {
  return new Promise<number>((resolve) => {
    let plane: DataPlane | undefined
    let logger: Logger = pino()
    let usable = new Map<UpstreamNode, boolean>()
    let weights = new Map<UpstreamNode, number>()
    /** nodes in maint (issue 14): the data plane cuts their WebSocket tunnels */
    let maint = new Set<UpstreamNode>()
    let draining = false
    const batcher = new OutcomeBatcher(send)
    // issue 13: this worker's shadow copies, reported on the same beat as its outcomes
    const shadowBatcher = new ShadowBatcher(clock)
    let shadow: AttachedShadow | undefined
    const flush = () => {
      batcher.flush()
      const batch = shadowBatcher.flush()
      if (batch !== null) send({ t: 'shadow', batch })
    }
    let flusher: TimerHandle | null = null
    const flushEvery = () => {
      flush()
      flusher = clock.setTimeout(flushEvery, FLUSH_EVERY_MS)
    }
    flusher = clock.setTimeout(flushEvery, FLUSH_EVERY_MS)
    let metrics: Metrics | undefined

    const setUsable = (flags: Usable, weighted: Weights, h2Until?: H2Until, maintFlags?: Usable) => {
      const next = new Map<UpstreamNode, boolean>()
      const nextWeights = new Map<UpstreamNode, number>()
      const nextMaint = new Set<UpstreamNode>()
      if (plane) {
        for (const pool of POOLS) {
          for (const [i, node] of plane.upstreams.nodes[pool].entries()) {
            next.set(node, flags[pool][i] === true)
            if (maintFlags?.[pool][i] === true) nextMaint.add(node)
            nextWeights.set(node, weighted[pool][i] ?? node.weight)
            // the primary's passive health decides when a node's h2 listener is ejected
            node.h2EjectedUntil = h2Until?.[pool][i] ?? 0
          }
        }
      }
      usable = next
      weights = nextWeights
      maint = nextMaint
    }

    const drain = async () => {
      if (draining) return
      draining = true
      try {
        if (plane) await plane.drain()
        await shadow?.close()
      } finally {
        flush()
        clock.clearTimeout(flusher)
        resolve(0)
      }
    }

    const start = async (config: Config, gen: number, y: number, flags: Usable, weighted: Weights, h2Until?: H2Until, maintFlags?: Usable) => {
      logger = pino({ level: config.log.level }).child({ worker: process.pid })
      const upstreams = new Upstreams(config)
      metrics = new Metrics({ inflight: () => upstreams.inflightByPool(), connections: () => upstreams.nodes })
      metrics.setNodes(upstreams.nodes)
      const own = metrics
      plane = createDataPlane(config, own, [batcher], {
        upstreams,
        isUsable: (node) => usable.get(node) === true,
        weightOf: (node) => weights.get(node) ?? node.weight,
        inMaint: (node) => maint.has(node),
        y,
        random,
        clock,
        logger,
      })
      batcher.setNodes(gen, upstreams.nodes)
      setUsable(flags, weighted, h2Until, maintFlags)
      plane.route(y)
      shadow = attachShadow(config, plane, shadowBatcher, { clock, random, logger })
      const address = await plane.listen()
      send({ t: 'listening', host: address.host, port: address.port })
    }

    process.on('message', (message: ToWorker) => {
      switch (message.t) {
        case 'init':
          start(message.config, message.gen, message.y, message.usable, message.weights, message.h2Until, message.maint).catch((err: Error) => {
            send({ t: 'error', message: err.message })
            resolve(1)
          })
          break
        case 'config':
          if (!plane || !metrics) break
          plane.reload(message.config)
          shadow?.reload(message.config)
          metrics.setNodes(plane.upstreams.nodes)
          batcher.setNodes(message.gen, plane.upstreams.nodes)
          setUsable(message.usable, message.weights, message.h2Until, message.maint)
          plane.route(message.y)
          break
        case 'route':
          setUsable(message.usable, message.weights, message.h2Until, message.maint)
          plane?.route(message.y)
          break
        case 'metrics':
          if (metrics) void metrics.registry.getMetricsAsJSON().then((json) => send({ t: 'metrics', id: message.id, json }))
          else send({ t: 'metrics', id: message.id, json: [] })
          break
        case 'drain':
          void drain()
          break
      }
    })
    // the primary coordinates shutdown; a terminal's Ctrl-C reaches every process of the group
    process.on('SIGINT', () => undefined)
    process.on('SIGTERM', () => void drain())
    process.on('disconnect', () => void drain())
    send({ t: 'ready' })
  })
}
