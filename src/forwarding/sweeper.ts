/**
 * Deadlines without a timer per request: each connection keeps monotonic deadlines (numbers,
 * 0 = none) and one sweep every `tick` ms expires those past them. Connections register
 * once, when they open; a request only writes a number. The sweep runs after the I/O the
 * event loop has ready (Clock.afterIo), as nginx expires its timers after its events: a
 * process that got its core back late reads the answers that came in time before it judges
 * their deadlines.
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

  // #timer stays set until the sweep has run: add() schedules no second one meanwhile
  #run = (): void => {
    this.#clock.afterIo(this.#sweepNow)
  }

  #sweepNow = (): void => {
    this.#timer = null
    this.sweep()
    if (this.#items.size > 0) this.#schedule()
  }
}
