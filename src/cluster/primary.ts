/**
 * The primary process with `proxy.workers` above 1: one control plane (state file, probes,
 * gates, rollout, control API) and N workers forked with node:cluster that share the
 * proxy port. The primary tells workers the split and node usability as they change, and
 * replays their outcomes into its gates and passive health; /metrics sums every process.
 */

import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry } from 'prom-client'
import type { Clock } from '../clock.js'
import type { Config, HostPort } from '../config/types.js'
import { POOLS } from '../config/types.js'
import { ControlPlane, startedLine } from '../control-plane.js'
import type { Metrics } from '../metrics/metrics.js'
import { Upstreams } from '../upstream/upstreams.js'
import type { ToPrimary, ToWorker, Usable } from './messages.js'
import { replayOutcomes } from './replay.js'

/** A worker that dies sooner than this after its start is restarted only after a pause. */
const CRASH_LOOP_MS = 5_000
const METRICS_TIMEOUT_MS = 2_000

interface WorkerSlot {
  worker: Worker
  startedAt: number
  listening: boolean
  inflight: Record<'x' | 'y', number[]>
}

export interface Primary {
  readonly proxyAddress: HostPort
  readonly controlAddress: HostPort
  readonly control: ControlPlane
  reload(config: Config): void
  close(): Promise<void>
}

/** Start the control plane and `count` workers; resolves once every worker is listening. */
export async function startPrimary(initialConfig: Config, count: number, logger: Logger, clock: Clock): Promise<Primary> {
  let config = initialConfig
  let gen = 1
  let stopping = false
  const slots = new Map<number, WorkerSlot>()
  const upstreams = new Upstreams(config)
  let metricsId = 0
  const metricsWaiters = new Map<number, { pending: number; parts: unknown[][]; done: () => void }>()

  let ready = false
  const usable = (): Usable => ({ x: upstreams.nodes.x.map((n) => control.isUsable(n)), y: upstreams.nodes.y.map((n) => control.isUsable(n)) })
  const tell = (slot: WorkerSlot, message: ToWorker) => {
    if (slot.worker.isConnected()) slot.worker.send(message)
  }
  const broadcast = (message: ToWorker) => {
    for (const slot of slots.values()) tell(slot, message)
  }

  const clusterMetrics = async (own: Metrics) => {
    const id = ++metricsId
    const parts: unknown[][] = [await own.registry.getMetricsAsJSON()]
    const live = [...slots.values()].filter((s) => s.listening && s.worker.isConnected())
    await new Promise<void>((resolve) => {
      const timer = clock.setTimeout(resolve, METRICS_TIMEOUT_MS)
      metricsWaiters.set(id, {
        pending: live.length,
        parts,
        done: () => {
          clock.clearTimeout(timer)
          resolve()
        },
      })
      if (live.length === 0) resolve()
      for (const slot of live) tell(slot, { t: 'metrics', id })
    })
    metricsWaiters.delete(id)
    const registry = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0])
    return { contentType: registry.contentType, body: await registry.metrics() }
  }

  const control: ControlPlane = await ControlPlane.create(config, {
    clock,
    logger,
    upstreams,
    // called during construction too, before there is anyone to tell
    onRoutingChange: () => {
      if (ready) broadcast({ t: 'route', gen, y: control.state.current.y, usable: usable() })
    },
    externalMetrics: clusterMetrics,
  })

  ready = true

  const sumInflight = () => {
    for (const pool of POOLS) {
      upstreams.nodes[pool].forEach((node, i) => {
        let n = 0
        for (const slot of slots.values()) n += slot.inflight[pool][i] ?? 0
        node.inflight = n
      })
    }
  }

  let firstListening: ((address: HostPort) => void) | undefined
  let startFailed: ((err: Error) => void) | undefined

  const fork = () => {
    const worker = cluster.fork()
    const slot: WorkerSlot = { worker, startedAt: clock.monotonic(), listening: false, inflight: { x: [], y: [] } }
    slots.set(worker.id, slot)
    worker.on('message', (message: ToPrimary) => {
      switch (message.t) {
        case 'ready':
          tell(slot, { t: 'init', gen, config, y: control.state.current.y, usable: usable() })
          break
        case 'listening':
          slot.listening = true
          logger.info({ pid: worker.process.pid }, 'worker listening')
          firstListening?.({ host: message.host, port: message.port })
          break
        case 'outcomes':
          if (message.gen !== gen) break // about a node list that a reload replaced
          replayOutcomes(message.records, upstreams.nodes, control.sink)
          slot.inflight = message.inflight
          sumInflight()
          break
        case 'metrics': {
          const waiter = metricsWaiters.get(message.id)
          if (!waiter) break
          waiter.parts.push(message.json)
          if (--waiter.pending <= 0) waiter.done()
          break
        }
        case 'error':
          logger.error({ pid: worker.process.pid, error: message.message }, 'worker could not start')
          startFailed?.(new Error(message.message))
          break
      }
    })
    worker.on('exit', (code, signal) => {
      slots.delete(worker.id)
      sumInflight()
      if (stopping) return
      const lived = clock.monotonic() - slot.startedAt
      logger.error({ pid: worker.process.pid, code, signal, lived_ms: lived }, 'worker exited: starting another')
      control.events.add('worker.exited', { cause: 'worker', pid: worker.process.pid, code, signal })
      clock.setTimeout(() => {
        if (!stopping) fork()
      }, lived < CRASH_LOOP_MS ? 1_000 : 0)
    })
  }

  const controlAddress = await control.listen()
  const proxyAddress = await new Promise<HostPort>((resolve, reject) => {
    let listening = 0
    let address: HostPort | undefined
    firstListening = (a) => {
      address = a
      if (++listening === count) resolve(address)
    }
    startFailed = reject
    for (let i = 0; i < count; i++) fork()
  }).catch(async (err: Error) => {
    stopping = true
    for (const slot of slots.values()) slot.worker.kill()
    await control.close()
    throw err
  })
  firstListening = undefined
  startFailed = undefined
  logger.info(startedLine(proxyAddress, controlAddress, upstreams, control.state.current, { workers: count }), 'cutover started')

  let closing: Promise<void> | undefined
  return {
    proxyAddress,
    controlAddress,
    control,

    reload(next: Config): void {
      config = next
      gen++
      control.reload(next, upstreams.reconcile(next))
      broadcast({ t: 'config', gen, config: next, y: control.state.current.y, usable: usable() })
    },

    close(): Promise<void> {
      closing ??= (async () => {
        stopping = true
        control.stopDeciding()
        const exits = [...slots.values()].map((slot) => new Promise<void>((resolve) => {
          if (slot.worker.isDead()) return resolve()
          slot.worker.once('exit', () => resolve())
          tell(slot, { t: 'drain' })
        }))
        const grace = clock.setTimeout(() => {
          for (const slot of slots.values()) slot.worker.kill('SIGKILL')
        }, config.proxy.drain_timeout + 5_000)
        await Promise.all(exits)
        clock.clearTimeout(grace)
        await control.close()
        await upstreams.close(true)
      })()
      return closing
    },
  }
}
