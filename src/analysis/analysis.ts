/**
 * Issue 13 in one place for the control plane: the shadow results, the config-drift
 * watcher, the PromQL gates and the rollout guard built from them, started, reconfigured
 * and stopped together, and what /v1/state and /metrics show of them.
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Config, PoolName } from '../config/types.js'
import { HashWatcher } from '../drift/hash-watcher.js'
import type { Drift } from '../drift/drift.js'
import { type DropReason, ShadowResults, type ShadowOutcome } from '../shadow/results.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import type { UpstreamNode } from '../upstream/node.js'
import type { Upstreams } from '../upstream/upstreams.js'
import { PromGates } from './prom-gates.js'
import type { PromVerdict } from './prom-answer.js'
import { AnalysisGuard, type HookResult } from './rollout-guard.js'

export interface AnalysisOptions {
  state: StateController
  events: EventLog
  clock: Clock
  logger: Logger
  upstreams: Upstreams
  onShadow?: (outcome: ShadowOutcome, n: number) => void
  /** n shadow copies dropped for reason */
  onShadowDrop?: (reason: DropReason, n: number) => void
  onDrift?: (drift: Drift) => void
}

export interface AnalysisView {
  /** true while drift is configured and its hashes are read */
  drift: boolean
  /** why a rollout may not start now (x and y disagree), or null */
  drift_refusal: string | null
  prom_gates: PromVerdict[]
  last_hook: HookResult | null
}

export class Analysis {
  readonly shadow: ShadowResults
  readonly prom: PromGates
  readonly guard: AnalysisGuard
  #drift: HashWatcher | undefined
  #config: Config
  readonly #o: AnalysisOptions
  #started = false

  constructor(config: Config, options: AnalysisOptions) {
    this.#config = config
    this.#o = options
    this.shadow = new ShadowResults({ clock: options.clock, redact: config.shadow?.redact_headers, onOutcome: options.onShadow, onDrop: options.onShadowDrop })
    if (config.shadow) this.shadow.configure(config.shadow.share, config.shadow.redact_headers)
    this.prom = new PromGates({ analysis: config.analysis, gates: config.gates, state: options.state, events: options.events, clock: options.clock, logger: options.logger })
    this.#drift = this.#newDrift(config)
    this.guard = new AnalysisGuard({
      analysis: () => this.#config.analysis,
      gates: () => this.#config.gates,
      driftRefusal: () => this.#drift?.startRefusal() ?? null,
      promHolding: () => this.prom.holding(),
      shadow: this.shadow,
      clock: options.clock,
    })
  }

  start(): void {
    this.#started = true
    this.prom.start()
    this.#drift?.start()
  }

  stop(): void {
    this.#started = false
    this.prom.stop()
    this.#drift?.stop()
  }

  configure(config: Config): void {
    this.#config = config
    this.prom.configure(config.analysis, config.gates)
    if (config.shadow) this.shadow.configure(config.shadow.share, config.shadow.redact_headers)
    if (config.drift === undefined) {
      this.#drift?.stop()
      this.#drift = undefined
    } else if (this.#drift === undefined) {
      this.#drift = this.#newDrift(config)
      if (this.#started) this.#drift?.start()
    } else {
      this.#drift.configure(config.drift, config.health.active?.port)
    }
  }

  /** The drift watcher, when drift is configured. */
  get drift(): HashWatcher | undefined {
    return this.#drift
  }

  /** Why the last read of a node's configuration_hash failed, for /v1/state; null when it did not, undefined when drift is off. */
  hashErrorOf(node: UpstreamNode): string | null | undefined {
    return this.#drift?.readErrorOf(node)
  }

  /** A node's last configuration_hash, for /v1/state; undefined when drift is off. */
  hashOf(node: UpstreamNode): string | null | undefined {
    return this.#drift?.hashOf(node)
  }

  configHashes(): Array<{ pool: PoolName; node: string; hash: string | null }> {
    return this.#drift?.hashes() ?? []
  }

  view(): AnalysisView {
    return { drift: this.#drift !== undefined, drift_refusal: this.#drift?.startRefusal() ?? null, prom_gates: this.prom.active ? this.prom.verdicts() : [], last_hook: this.guard.lastHook }
  }

  #newDrift(config: Config): HashWatcher | undefined {
    if (config.drift === undefined) return undefined
    const o = this.#o
    return new HashWatcher({
      config: config.drift,
      probePort: config.health.active?.port,
      upstreams: o.upstreams,
      state: o.state,
      events: o.events,
      clock: o.clock,
      logger: o.logger,
      onDrift: o.onDrift,
    })
  }
}
