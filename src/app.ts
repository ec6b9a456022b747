/**
 * One cutover in one process: the control plane and the data plane side by side, sharing
 * the node objects, so health verdicts reach routing without a copy. (With workers, see
 * src/cluster/: the same two planes, across processes.)
 */

import pino, { type Logger } from 'pino'
import { systemClock, systemRandom, type Clock, type Random } from './clock.js'
import type { Config, HostPort } from './config/types.js'
import { ControlPlane, startedLine } from './control-plane.js'
import { createDataPlane } from './data-plane-wiring.js'
import { attachShadow } from './shadow/attach.js'
import type { EventLog } from './state/events.js'
import type { StateController } from './state/controller.js'
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
  /** where proxy.h2c_listen is bound, when it is set (issue 12) */
  readonly h2cAddress: HostPort | undefined
  readonly state: StateController
  readonly events: EventLog
  /** apply a new config: nodes, timeouts, sticky rule, gates; the live split stays */
  reload(config: Config): Promise<void>
  /** stop accepting, let in-flight requests finish up to drain_timeout, close everything */
  close(): Promise<void>
}

/** Start cutover with a validated config: binds both listeners, starts probes and gates. */
export async function startCutover(config: Config, options: StartOptions = {}): Promise<Cutover> {
  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const logger = options.logger ?? pino({ level: config.log.level })

  // construct both planes, then connect them: the control plane tells the data plane when
  // to rebuild its routing table
  const upstreams = new Upstreams(config)
  const control = await ControlPlane.create(config, { clock, logger, upstreams })
  const data = createDataPlane(config, control.metrics, [control.sink], {
    upstreams,
    isUsable: (node) => control.isUsable(node),
    weightOf: (node) => control.weightOf(node),
    inMaint: (node) => control.inMaint(node),
    y: control.state.current.y,
    random,
    clock,
    logger,
  })
  control.onRoutingChange(() => data.route(control.state.current.y))
  // issue 13: copies of x's requests to y, compared; results in the control plane
  const shadow = attachShadow(config, data, control.analysis.shadow, { clock, random, logger })

  let proxyAddress: HostPort
  let controlAddress: HostPort
  try {
    proxyAddress = await data.listen()
    controlAddress = await control.listen()
  } catch (err) {
    await Promise.allSettled([data.drain(), control.close()])
    throw err
  }
  logger.info(startedLine(proxyAddress, controlAddress, upstreams, control.state.current), 'cutover started')

  let closing: Promise<void> | undefined
  return {
    proxyAddress,
    controlAddress,
    h2cAddress: data.h2cAddress(),
    state: control.state,
    events: control.events,

    async reload(next: Config): Promise<void> {
      control.reload(next, data.reload(next))
      shadow.reload(next)
    },

    close(): Promise<void> {
      closing ??= (async () => {
        control.stopDeciding()
        await data.drain()
        await shadow.close()
        await control.close()
        logger.info('cutover stopped')
      })()
      return closing
    },
  }
}
