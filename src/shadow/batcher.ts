/**
 * A worker's shadow results on their way to the primary: counts and mismatch classes
 * gathered between two flushes, shipped as one ShadowBatch over the cluster channel and
 * merged there (ShadowResults.merge) into the one /v1/shadow, metric and gate. Bounded so
 * shadowing cannot flood IPC: at most MAX_BATCH_CLASSES classes a batch (the rest counted),
 * differences capped and shortened, and no more samples of a class than the primary keeps
 * over the worker's whole life.
 */

import type { Clock } from '../clock.js'
import {
  addDifferences,
  classKey,
  type DropReason,
  MAX_CLASSES,
  type MismatchClass,
  type MismatchInput,
  redactedSet,
  SAMPLES_PER_CLASS,
  type ShadowBatch,
  type ShadowOutcome,
  type ShadowRecorder,
  sampleOf,
  zeroReasons,
  zeroTotals,
} from './results.js'

/** classes in one batch; a worker flushes every 50 ms, so this is plenty for real traffic */
export const MAX_BATCH_CLASSES = 32
/** a difference names a header or a JSON path from y's body: shortened past this */
export const MAX_DIFFERENCE_CHARS = 200

export class ShadowBatcher implements ShadowRecorder {
  #totals = zeroTotals()
  #reasons = zeroReasons()
  #classes = new Map<string, MismatchClass>()
  #other = 0
  #any = false
  /** samples sent per class key over this worker's life; at most MAX_CLASSES keys */
  readonly #sampled = new Map<string, number>()
  #redacted = redactedSet()
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  configure(_share: number, redact: readonly string[]): void {
    this.#redacted = redactedSet(redact)
  }

  count(outcome: Exclude<ShadowOutcome, 'mismatch' | 'dropped'>): void {
    this.#totals[outcome]++
    this.#any = true
  }

  drop(reason: DropReason): void {
    this.#totals.dropped++
    this.#reasons[reason]++
    this.#any = true
  }

  mismatch(m: MismatchInput): void {
    this.#totals.mismatch++
    this.#any = true
    const key = classKey(m.method, m.route, m.xStatus, m.yStatus)
    let c = this.#classes.get(key)
    if (c === undefined) {
      if (this.#classes.size >= MAX_BATCH_CLASSES) {
        this.#other++
        return
      }
      c = { method: m.method, route: m.route, x_status: m.xStatus, y_status: m.yStatus, count: 0, differences: [], samples: [] }
      this.#classes.set(key, c)
    }
    c.count++
    addDifferences(c.differences, m.differences.map(shorten))
    const sent = this.#sampled.get(key) ?? 0
    if (sent + c.samples.length < SAMPLES_PER_CLASS && (sent > 0 || this.#sampled.size < MAX_CLASSES)) {
      const sample = sampleOf(m, this.#redacted, this.#clock.now())
      sample.differences = sample.differences.map(shorten)
      c.samples.push(sample)
    }
  }

  /** What was gathered since the last flush, or null when nothing was; starts a new batch. */
  flush(): ShadowBatch | null {
    if (!this.#any) return null
    for (const [key, c] of this.#classes) if (c.samples.length > 0) this.#sampled.set(key, (this.#sampled.get(key) ?? 0) + c.samples.length)
    const classes = [...this.#classes.values()]
    const batch: ShadowBatch = { totals: this.#totals, dropped_reasons: this.#reasons, classes, other: this.#other }
    this.#totals = zeroTotals()
    this.#reasons = zeroReasons()
    this.#classes = new Map()
    this.#other = 0
    this.#any = false
    return batch
  }
}

function shorten(difference: string): string {
  return difference.length > MAX_DIFFERENCE_CHARS ? `${difference.slice(0, MAX_DIFFERENCE_CHARS)}…` : difference
}
