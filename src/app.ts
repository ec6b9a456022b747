/**
 * Wires one cutover: state, upstream nodes, routing, forwarding, health, gates, rollout,
 * the proxy and control listeners. (Being written by the lead; the signature is fixed.)
 */

import type { Logger } from 'pino'
import type { Clock, Random } from './clock.js'
import type { Config, HostPort } from './config/types.js'
import type { EventLog } from './state/events.js'
import type { StateController } from './state/controller.js'

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

export async function startCutover(config: Config, options: StartOptions = {}): Promise<Cutover> {
  void config
  void options
  throw new Error('not yet')
}
