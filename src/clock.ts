/**
 * The one place that owns wall time, timers and randomness. Everything else receives a
 * Clock and a Random, so decisions can be tested with a fake clock instead of sleeping.
 * The system ones are chosen only at the entry points (cli, app, demo); nothing below
 * them falls back to them.
 */

const { performance } = process.getBuiltinModule('node:perf_hooks')

export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>

export interface Clock {
  /** Milliseconds since the epoch: for timestamps people read (events, state file). */
  now(): number
  /** Milliseconds from an arbitrary origin, never going back: for durations and intervals. */
  monotonic(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle | undefined | null): void
  /**
   * Runs fn once the I/O the event loop has ready now is handled (setImmediate). A timer
   * runs before that I/O in the loop's turn, so a deadline checked from one can beat an
   * answer that came in time and was not read yet: a process held off its core for longer
   * than the deadline runs its due timers first when it gets it back.
   */
  afterIo(fn: () => void): void
}

/** A source of uniform numbers in [0, 1). */
export type Random = () => number

/** The real clock; timers are unref'd so they never keep the process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout(handle) {
    if (handle != null) clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
  afterIo(fn) {
    setImmediate(fn)
  },
}

export const systemRandom: Random = Math.random

/**
 * A clock that only moves when told to; due timers run in time order during advance().
 * Its monotonic reading starts at 0, not at the wall time, so code that mixes the two shows.
 */
export class FakeClock implements Clock {
  #now: number
  readonly #start: number
  #nextId = 1
  #timers = new Map<number, { at: number; fn: () => void }>()

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
    this.#start = start
  }

  now(): number {
    return this.#now
  }

  monotonic(): number {
    return this.#now - this.#start
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn })
    return { id }
  }

  clearTimeout(handle: TimerHandle | undefined | null): void {
    if (handle && typeof handle === 'object' && 'id' in handle) this.#timers.delete(handle.id as number)
  }

  /** No I/O waits behind a fake clock's timers: at once. */
  afterIo(fn: () => void): void {
    fn()
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.size
  }

  /** Move time forward by ms, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      let nextId = -1
      let nextAt = Infinity
      for (const [id, t] of this.#timers) {
        if (t.at <= end && t.at < nextAt) {
          nextAt = t.at
          nextId = id
        }
      }
      if (nextId < 0) break
      const timer = this.#timers.get(nextId)!
      this.#timers.delete(nextId)
      this.#now = Math.max(this.#now, timer.at)
      timer.fn()
    }
    this.#now = end
  }
}

/** Mulberry32: a small seeded generator for tests and reproducible benchmarks. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
