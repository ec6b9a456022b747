/**
 * The primary process with `proxy.workers` above 1: one control plane (state file, probes,
 * gates, rollout, control API) and a pool of workers forked with node:cluster that share
 * the proxy port. Built in two steps: the control plane and the worker pool first, then
 * connected (routing changes go to the workers, their outcomes to the gates and health).
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Config, HostPort } from '../config/types.js'
import { ControlPlane, startedLine } from '../control-plane.js'
import { Upstreams } from '../upstream/upstreams.js'
import { clusterMetrics } from './cluster-metrics.js'
import { replayOutcomes, replayWhys } from './replay.js'
import { WorkerPool } from './worker-pool.js'

export interface Primary {
  readonly proxyAddress: HostPort
  readonly controlAddress: HostPort
  readonly control: ControlPlane
  reload(config: Config): void
  close(): Promise<void>
}

/** Start the control plane and `count` workers; resolves once every worker is listening. */
export async function startPrimary(config: Config, count: number, logger: Logger, clock: Clock): Promise<Primary> {
  const upstreams = new Upstreams(config)
  const pool = new WorkerPool({ count, config, clock, logger })
  const control = await ControlPlane.create(config, {
    clock,
    logger,
    upstreams,
    externalMetrics: (own) => clusterMetrics(own, pool),
    // the node objects here are never forwarded to: their in-flight counts are the workers'
    inflightOf: (node) => pool.inflight(node.pool, upstreams.nodes[node.pool].indexOf(node)),
  })
  pool.connect({
    routing: () => ({
      y: control.state.current.y,
      usable: { x: upstreams.nodes.x.map((n) => control.isUsable(n)), y: upstreams.nodes.y.map((n) => control.isUsable(n)) },
      weights: { x: upstreams.nodes.x.map((n) => control.weightOf(n)), y: upstreams.nodes.y.map((n) => control.weightOf(n)) },
      h2Until: { x: upstreams.nodes.x.map((n) => n.h2EjectedUntil), y: upstreams.nodes.y.map((n) => n.h2EjectedUntil) },
      // issue 14: nodes in maint, whose WebSocket tunnels each worker cuts
      maint: { x: upstreams.nodes.x.map((n) => control.inMaint(n)), y: upstreams.nodes.y.map((n) => control.inMaint(n)) },
    }),
    onOutcomes: (records, whys) => {
      // the words first: an ejection the records cause can then name what the node did
      replayWhys(whys, upstreams.nodes, control.sink)
      replayOutcomes(records, upstreams.nodes, control.sink)
    },
    // issue 13: every worker shadows its own traffic; one /v1/shadow, metric and gate for all
    onShadow: (batch) => control.analysis.shadow.merge(batch),
    onExit: (pid, code, signal) => control.events.add('worker.exited', { cause: 'worker', pid, code, signal }),
  })
  control.onRoutingChange(() => pool.routingChanged())

  const controlAddress = await control.listen()
  let proxyAddress: HostPort
  try {
    proxyAddress = await pool.start()
  } catch (err) {
    pool.kill()
    await control.close()
    throw err
  }
  logger.info(startedLine(proxyAddress, controlAddress, upstreams, control.state.current, { workers: count }), 'cutover started')

  let closing: Promise<void> | undefined
  return {
    proxyAddress,
    controlAddress,
    control,

    reload(next: Config): void {
      control.reload(next, upstreams.reconcile(next))
      pool.reload(next)
    },

    close(): Promise<void> {
      closing ??= (async () => {
        control.stopDeciding()
        await pool.close()
        await control.close()
        await upstreams.close(true)
      })()
      return closing
    },
  }
}
