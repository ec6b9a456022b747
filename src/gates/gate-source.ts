/**
 * Where a gatekeeper's figures come from: this replica's own pair of sliding windows, fed
 * by its outcomes on the hot path, or a fleet's windows summed over every replica
 * (src/fleet/fleet-window.ts). Either hands evaluateGates the same figures, spans
 * included, so one verdict path serves one cutover and a fleet alike.
 */

import type { Clock } from '../clock.js'
import { SlidingWindow, type WindowFigures } from './window.js'

export interface GateSource {
  /** x's and y's figures now, spans included; slowMs: count the answers slower than this */
  figures(slowMs: number | undefined): { x: WindowFigures; y: WindowFigures }
  /** y left, rejoined or was locked: forget y's counts and start x's spans afresh beside them */
  resetY(): void
  /** a new window length in ms (gates.window on reload) */
  setWindow(ms: number): void
}

/** One replica's own windows, one per pool. */
export class PoolWindows implements GateSource {
  readonly #clock: Clock
  x: SlidingWindow
  y: SlidingWindow

  constructor(windowMs: number, clock: Clock) {
    this.#clock = clock
    this.x = new SlidingWindow(windowMs, clock)
    this.y = new SlidingWindow(windowMs, clock)
  }

  figures(slowMs: number | undefined): { x: WindowFigures; y: WindowFigures } {
    return { x: this.x.figures(slowMs), y: this.y.figures(slowMs) }
  }

  resetY(): void {
    this.y.reset()
    // x's spans start with y's, so y is compared with x over the same time
    this.x.restart()
  }

  /** A new window size starts both windows afresh. */
  setWindow(ms: number): void {
    if (ms === this.x.windowMs) return
    this.x = new SlidingWindow(ms, this.#clock)
    this.y = new SlidingWindow(ms, this.#clock)
  }
}
