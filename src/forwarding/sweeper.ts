/**
 * Deadlines without a timer per request: each connection keeps monotonic deadlines (numbers,
 * 0 = none) and one sweep every `tick` ms expires those past them. Connections register
 * once, when they open; a request only writes a number.
 */

import type { Clock, TimerHandle } from '../clock.js'

export interface Timed {
  /** Expire whatever of this item is past its deadline at now (monotonic ms); cheap when nothing is. */
  sweep(now: number): void
}

export class Sweeper {
  readonly #clock: Clock
  readonly #items = new Set<Timed>()
  #tick: number
  #timer: TimerHandle | null = null

  constructor(clock: Clock, tick: number) {
    this.#clock = clock
    this.#tick = tick
  }

  /** The sweep interval for the given timeouts: a quarter of the shortest, 10 ms to 250 ms. */
  static tickFor(...timeouts: number[]): number {
    return Math.max(10, Math.min(250, Math.floor(Math.min(...timeouts) / 4)))
  }

  set tick(ms: number) {
    this.#tick = ms
  }

  add(item: Timed): void {
    this.#items.add(item)
    if (this.#timer === null) this.#schedule()
  }

  delete(item: Timed): void {
    this.#items.delete(item)
  }

  get size(): number {
    return this.#items.size
  }

  /** Expire what is due now (also what the timer calls). */
  sweep(): void {
    const now = this.#clock.monotonic()
    for (const item of this.#items) item.sweep(now)
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(this.#run, this.#tick)
  }

  #run = (): void => {
    this.#timer = null
    this.sweep()
    if (this.#items.size > 0) this.#schedule()
  }
}
