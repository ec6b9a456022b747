/**
 * Wires one cutover: state, upstream nodes, routing, forwarding, health, gates, rollout,
 * the proxy and control listeners. Everything here is assembly; decisions live in the
 * modules it wires.
 */

import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { systemClock, systemRandom, type Clock, type Random } from './clock.js'
import type { Config, HostPort, PoolName } from './config/types.js'
import { POOLS } from './config/types.js'
import { buildControlServer } from './control/server.js'
import { Forwarder } from './forwarding/forwarder.js'
import { fanOut } from './forwarding/outcome.js'
import { createProxyServer } from './forwarding/proxy-server.js'
import { Gatekeeper } from './gates/gatekeeper.js'
import { HealthMonitor } from './health/monitor.js'
import { Metrics } from './metrics/metrics.js'
import { buildRoutingTable, type Router } from './routing/table.js'
import { RolloutRunner } from './rollout/runner.js'
import { StateController } from './state/controller.js'
import { EventLog } from './state/events.js'
import { FileStateStore } from './state/store.js'
import type { LiveState } from './state/types.js'
import { Upstreams } from './upstream/upstreams.js'

export interface StartOptions {
  clock?: Clock
  random?: Random
  /** pino logger; default: pino JSON on stdout at config.log.level */
  logger?: Logger
}

export interface Cutover {
  /** where the proxy and control listeners are bound (real ports when 0 was asked) */
  readonly proxyAddress: HostPort
  readonly controlAddress: HostPort
  readonly state: StateController
  readonly events: EventLog
  /** apply a new config: nodes, timeouts, sticky rule, gates; the live split stays */
  reload(config: Config): Promise<void>
  /** stop accepting, let in-flight requests finish up to drain_timeout, close everything */
  close(): Promise<void>
}

function initialState(config: Config, store: FileStateStore, logger: Logger): { state: LiveState; event?: [string, Record<string, unknown>] } {
  const loaded = store.load()
  if (loaded.kind === 'ok') return { state: loaded.state, event: ['startup', { cause: 'startup', source: 'state file', y: loaded.state.y, locked: loaded.state.locked }] }
  if (loaded.kind === 'missing') return { state: { y: config.split.y, locked: false, lock_reason: null, rollout: null }, event: ['startup', { cause: 'startup', source: 'config split.y', y: config.split.y, locked: false }] }
  const reason = `state file could not be read (${loaded.reason}); moved aside to ${loaded.movedTo}; started with y at 0, locked`
  logger.error({ path: config.state.path, movedTo: loaded.movedTo, reason: loaded.reason }, 'state file unreadable: started at y 0, locked')
  return { state: { y: 0, locked: true, lock_reason: reason, rollout: null }, event: ['state.unreadable', { cause: 'startup', reason: loaded.reason, moved_to: loaded.movedTo, y: 0, locked: true }] }
}

function address(app: FastifyInstance): HostPort {
  const a = app.server.address()
  if (a && typeof a === 'object') return { host: a.address, port: a.port }
  throw new Error('listener has no address')
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}

/** Start cutover with a validated config: binds both listeners, starts probes and gates. */
export async function startCutover(initialConfig: Config, options: StartOptions = {}): Promise<Cutover> {
  let config = initialConfig
  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const logger = options.logger ?? pino({ level: config.log.level })

  const events = new EventLog(clock)
  const store = new FileStateStore(config.state.path, { clock })
  const { state: initial, event } = initialState(config, store, logger)
  await store.save(initial)
  const state = new StateController(initial, store, events)
  if (event) events.add(event[0], event[1])

  const upstreams = new Upstreams(config)
  let rebuild: () => void = () => undefined
  const health = new HealthMonitor({
    health: config.health,
    clock,
    events,
    logger,
    onChange: () => rebuild(),
    onEjection: (node) => metrics.ejected(node),
  })
  health.setNodes(upstreams.nodes)
  const router: Router = { table: buildRoutingTable(state.current.y, upstreams.nodes, (n) => health.isUsable(n), config.split) }
  rebuild = () => {
    router.table = buildRoutingTable(state.current.y, upstreams.nodes, (n) => health.isUsable(n), config.split)
  }

  const gatekeeper: Gatekeeper = new Gatekeeper({
    gates: config.gates,
    state,
    events,
    clock,
    logger,
  })
  const runner = new RolloutRunner({ config: config.rollout, gates: config.gates, state, events, clock, gatekeeper, logger })
  gatekeeper.attachRollout(runner)

  const metrics: Metrics = new Metrics({
    splitY: () => state.current.y,
    nodes: () => upstreams.nodes,
    isHealthy: (node) => health.isUsable(node) && node.healthy !== false,
    gates: () => gatekeeper.describe().checks.map((c) => ({ gate: c.gate, figure: c.figure, verdict: c.verdict })),
    inflight: () => {
      const counts = { x: 0, y: 0 }
      for (const pool of POOLS) for (const node of upstreams.nodes[pool]) counts[pool] += node.inflight
      return counts
    },
  })
  metrics.setNodes(upstreams.nodes)
  // one place counts rollbacks, whoever caused them (API, rollout abort, gate)
  events.subscribe((e) => {
    if (e.type === 'rollback') metrics.rollback(e.cause === 'gate' ? 'gate' : 'api')
  })

  state.onChange((next, prev) => {
    rebuild()
    if (next.y !== prev.y || next.locked !== prev.locked) logger.info({ y: next.y, x: round2(100 - next.y), locked: next.locked, lock_reason: next.lock_reason }, 'split changed')
  })

  const forwarder = new Forwarder({ proxy: config.proxy, router, sink: fanOut([metrics, health, gatekeeper]), random, clock, logger, https: Boolean(config.proxy.tls) })
  const proxyApp = createProxyServer({ proxy: config.proxy, forwarder, logger })

  const describe = () => {
    const s = state.current
    const pools: Record<string, unknown> = {}
    for (const pool of POOLS) pools[pool] = { nodes: upstreams.nodes[pool].map((node) => health.describe(node)) }
    return {
      split: { x: round2(100 - s.y), y: s.y },
      locked: s.locked,
      lock_reason: s.lock_reason,
      rollout: runner.describe(),
      pools,
      gates: gatekeeper.describe(),
    }
  }

  const controlApp = buildControlServer({
    token: () => config.control.token,
    state,
    events,
    describe,
    metrics: () => metrics.render(),
    readiness: () => health.readiness(state.current.y),
    rollout: runner,
    logger,
    onAuthFailure: () => metrics.authFailure(),
  })

  try {
    await proxyApp.listen({ host: config.proxy.listen.host, port: config.proxy.listen.port })
    await controlApp.listen({ host: config.control.listen.host, port: config.control.listen.port })
  } catch (err) {
    await Promise.allSettled([proxyApp.close(), controlApp.close()])
    await upstreams.close(true)
    throw err
  }

  health.start()
  gatekeeper.start()
  runner.resumeAfterRestart()

  const proxyAddress = address(proxyApp)
  const controlAddress = address(controlApp)
  logger.info(
    {
      proxy: proxyAddress,
      control: controlAddress,
      pools: { x: upstreams.nodes.x.map((n) => n.config.url), y: upstreams.nodes.y.map((n) => n.config.url) },
      split: { x: round2(100 - state.current.y), y: state.current.y },
      locked: state.current.locked,
    },
    'cutover started',
  )

  let closing: Promise<void> | undefined

  return {
    proxyAddress,
    controlAddress,
    state,
    events,

    async reload(next: Config): Promise<void> {
      const ignored: string[] = []
      if (next.proxy.listen.host !== config.proxy.listen.host || next.proxy.listen.port !== config.proxy.listen.port) ignored.push('proxy.listen')
      if (next.control.listen.host !== config.control.listen.host || next.control.listen.port !== config.control.listen.port) ignored.push('control.listen')
      if (next.state.path !== config.state.path) ignored.push('state.path')
      if (JSON.stringify(next.proxy.tls) !== JSON.stringify(config.proxy.tls)) ignored.push('proxy.tls')
      config = next
      const { added, removed } = upstreams.reconcile(next)
      forwarder.configure(next.proxy)
      health.configure(next.health)
      health.setNodes(upstreams.nodes)
      metrics.setNodes(upstreams.nodes)
      gatekeeper.configure(next.gates)
      runner.configure(next.rollout, next.gates)
      rebuild()
      const details = {
        cause: 'reload',
        added: added.map((n) => `${n.pool}:${n.config.url}`),
        removed: removed.map((n) => `${n.pool}:${n.config.url}`),
        needs_restart: ignored,
      }
      events.add('config.reloaded', details)
      logger.info(details, ignored.length ? 'config reloaded; some keys need a restart to take effect' : 'config reloaded')
    },

    close(): Promise<void> {
      closing ??= (async () => {
        health.stop()
        gatekeeper.stop()
        runner.stop()
        const drained = proxyApp.close()
        let timer: ReturnType<typeof setTimeout> | undefined
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), config.proxy.drain_timeout)
        })
        const result = await Promise.race([drained.then(() => 'drained' as const), timedOut])
        clearTimeout(timer)
        if (result === 'timeout') {
          logger.warn({ drain_timeout_ms: config.proxy.drain_timeout }, 'drain timeout: closing the connections still open')
          proxyApp.server.closeAllConnections()
          await drained
        }
        await controlApp.close()
        await upstreams.close(result === 'timeout')
        logger.info('cutover stopped')
      })()
      return closing
    },
  }
}
