/**
 * The comparisons of the copies, off the critical path of the data plane's event loop: one
 * at a time, in the order their answers became whole, each turn of the event loop given at
 * most about TURN_MS of them (plus the step under way: at most one body's JSON.parse), then
 * the loop is given back (setImmediate, the clock's afterIo) so the live requests' I/O goes
 * first. The result is the one compareAnswers gives at once, exactly.
 */

import type { Clock } from '../clock.js'
import { type CompareOptions, type Comparison, compareSteps, type ShadowAnswer } from './compare.js'

/** ms of comparison work a turn of the event loop takes at most (past a step under way) */
export const TURN_MS = 1

/** a comparison's result; null: not made (shadowing stopped, or the comparison failed) */
export type Verdict = (c: Comparison | null) => void

interface Job {
  steps: Generator<void, Comparison, void>
  done: Verdict
}

export class Judge {
  readonly #clock: Pick<Clock, 'monotonic' | 'afterIo'>
  readonly #queue: Job[] = []
  #head = 0
  /** a turn runs or is due */
  #busy = false
  #closed = false
  /** turns the comparisons took so far (for tests and the curious) */
  turns = 0

  constructor(clock: Pick<Clock, 'monotonic' | 'afterIo'>) {
    this.#clock = clock
  }

  /** comparisons waiting or under way */
  get pending(): number {
    return this.#queue.length - this.#head
  }

  /** Compare y's answer with x's; done hears the result, in this turn or a later one. */
  judge(x: ShadowAnswer, y: ShadowAnswer, options: CompareOptions, done: Verdict): void {
    if (this.#closed) {
      done(null)
      return
    }
    this.#queue.push({ steps: compareSteps(x, y, options), done })
    if (this.#busy) return
    this.#busy = true
    this.#turn()
  }

  /** Stop: comparisons waiting or under way are not made (done hears null). */
  close(): void {
    this.#closed = true
    const left = this.#queue.slice(this.#head)
    this.#queue.length = 0
    this.#head = 0
    for (const job of left) job.done(null)
  }

  #turn = (): void => {
    if (this.#closed) return
    this.turns++
    const clock = this.#clock
    const start = clock.monotonic()
    while (this.#head < this.#queue.length) {
      const job = this.#queue[this.#head]
      let verdict: Comparison | null | undefined
      try {
        const r = job.steps.next()
        if (r.done === true) verdict = r.value
      } catch {
        // never expected (the steps catch what bodies can throw): the copy is not counted
        verdict = null
      }
      if (verdict !== undefined) {
        this.#queue[this.#head++] = undefined as unknown as Job
        if (this.#head === this.#queue.length) {
          this.#queue.length = 0
          this.#head = 0
        }
        job.done(verdict)
        if (this.#closed) return
      }
      if (clock.monotonic() - start >= TURN_MS) break
    }
    if (this.#head < this.#queue.length) clock.afterIo(this.#turn)
    else this.#busy = false
  }
}
