/**
 * What shadowing found: counts by outcome, and the mismatch classes (method + route
 * pattern + x status -> y status) with a few samples each, redacted: credentials, cookies,
 * the configured headers and every query value are never stored. Bounded in memory.
 */

import type { Clock } from '../clock.js'

export const SHADOW_OUTCOMES = ['match', 'mismatch', 'error', 'dropped'] as const
export type ShadowOutcome = (typeof SHADOW_OUTCOMES)[number]
/**
 * why a sampled request was not compared: y busy (the cap), no usable y node, y too slow,
 * x's answer broke, a body over shadow.max_body_bytes, x gave no answer (cutover answered
 * the client with its own 502, 503 or 504: there was no answer of x's to copy)
 */
export const DROP_REASONS = ['busy', 'no_y_node', 'timeout', 'x_aborted', 'body_too_large', 'x_failed'] as const
export type DropReason = (typeof DROP_REASONS)[number]

/** classes kept; the mismatches of further classes are counted under `other_mismatches` */
export const MAX_CLASSES = 200
export const SAMPLES_PER_CLASS = 3
/** request headers never stored, besides the configured ones (apikey: Kong's key-auth default) */
export const ALWAYS_REDACTED = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'apikey', 'x-api-key']

export interface ShadowSample {
  at: string
  /** path with every query value replaced by `…` */
  target: string
  /** request headers, the redacted ones' values replaced by `[redacted]` */
  headers: Record<string, string>
  differences: string[]
}

export interface MismatchClass {
  method: string
  route: string
  x_status: number
  y_status: number
  count: number
  /** the differences seen in this class, each once, the first few */
  differences: string[]
  samples: ShadowSample[]
}

export interface ShadowReport {
  share: number
  totals: Record<ShadowOutcome, number>
  /** the dropped total by reason */
  dropped_reasons: Record<DropReason, number>
  /** mismatch / (match + mismatch); null before anything was compared */
  mismatch_rate: number | null
  classes: MismatchClass[]
  other_mismatches: number
}

/** Counts at a moment, to count what came after (the gate counts from a rollout's start). */
export interface ShadowMark {
  match: number
  mismatch: number
}

export interface MismatchInput {
  method: string
  route: string
  target: string
  requestHeaders: readonly string[]
  xStatus: number
  yStatus: number
  differences: string[]
}

export const MAX_DIFFERENCES_KEPT = 10

/** Where a Shadower reports: the results themselves, or (in a worker) a batch for the primary. */
export interface ShadowRecorder {
  /** the share and the headers redacted from samples, from the config */
  configure(share: number, redact: readonly string[]): void
  /** an outcome other than a mismatch; a drop with its reason */
  count(outcome: Exclude<ShadowOutcome, 'mismatch' | 'dropped'>): void
  drop(reason: DropReason): void
  mismatch(m: MismatchInput): void
}

/**
 * What a worker found since its last batch, for the primary's results (ShadowResults.merge):
 * counts, and the mismatch classes with only the samples the primary may still keep.
 */
export interface ShadowBatch {
  totals: Record<ShadowOutcome, number>
  dropped_reasons: Record<DropReason, number>
  classes: MismatchClass[]
  /** mismatches whose class was not kept in this batch (counted in totals) */
  other: number
}

/** A mismatch class's key: method, route pattern and both statuses. */
export function classKey(method: string, route: string, xStatus: number, yStatus: number): string {
  return `${method} ${route} ${xStatus} ${yStatus}`
}

/** Request headers as a sample stores them: the redacted names' values replaced by `[redacted]`. */
export function redactHeaders(flat: readonly string[], redacted: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase()
    const value = redacted.has(name) ? '[redacted]' : flat[i + 1]
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`
  }
  return out
}

/** The set of header names never stored: the fixed ones and the configured ones. */
export function redactedSet(configured: readonly string[] = []): ReadonlySet<string> {
  return new Set([...ALWAYS_REDACTED, ...configured])
}

/** A sample of one mismatch, redacted. */
export function sampleOf(m: MismatchInput, redacted: ReadonlySet<string>, nowMs: number): ShadowSample {
  return { at: new Date(nowMs).toISOString(), target: redactQuery(m.target), headers: redactHeaders(m.requestHeaders, redacted), differences: m.differences }
}

/** Add differences to a class's list: each once, at most MAX_DIFFERENCES_KEPT. */
export function addDifferences(into: string[], differences: readonly string[]): void {
  for (const d of differences) if (into.length < MAX_DIFFERENCES_KEPT && !into.includes(d)) into.push(d)
}

export function zeroTotals(): Record<ShadowOutcome, number> {
  return { match: 0, mismatch: 0, error: 0, dropped: 0 }
}

export function zeroReasons(): Record<DropReason, number> {
  return { busy: 0, no_y_node: 0, timeout: 0, x_aborted: 0, body_too_large: 0, x_failed: 0 }
}

export class ShadowResults implements ShadowRecorder {
  readonly totals: Record<ShadowOutcome, number> = zeroTotals()
  readonly droppedReasons: Record<DropReason, number> = zeroReasons()
  readonly #classes = new Map<string, MismatchClass>()
  #other = 0
  #redacted: ReadonlySet<string>
  readonly #clock: Clock
  readonly #onOutcome: ((outcome: ShadowOutcome, n: number) => void) | undefined
  readonly #onDrop: ((reason: DropReason, n: number) => void) | undefined
  share = 0

  constructor(options: {
    clock: Clock
    redact?: readonly string[]
    onOutcome?: (outcome: ShadowOutcome, n: number) => void
    /** n copies dropped for reason (besides onOutcome's 'dropped') */
    onDrop?: (reason: DropReason, n: number) => void
  }) {
    this.#clock = options.clock
    this.#onOutcome = options.onOutcome
    this.#onDrop = options.onDrop
    this.#redacted = redactedSet(options.redact)
  }

  /** Headers named by a reload are redacted from then on. */
  configure(share: number, redact: readonly string[]): void {
    this.share = share
    this.#redacted = redactedSet(redact)
  }

  count(outcome: Exclude<ShadowOutcome, 'mismatch' | 'dropped'>): void {
    this.#add(outcome, 1)
  }

  drop(reason: DropReason): void {
    this.droppedReasons[reason]++
    this.#onDrop?.(reason, 1)
    this.#add('dropped', 1)
  }

  mismatch(m: MismatchInput): void {
    this.#add('mismatch', 1)
    const c = this.#classOf(classKey(m.method, m.route, m.xStatus, m.yStatus), m.method, m.route, m.xStatus, m.yStatus)
    if (c === undefined) {
      this.#other++
      return
    }
    c.count++
    addDifferences(c.differences, m.differences)
    if (c.samples.length < SAMPLES_PER_CLASS) c.samples.push(sampleOf(m, this.#redacted, this.#clock.now()))
  }

  /** A worker's batch (already redacted there); malformed parts are skipped. */
  merge(batch: ShadowBatch): void {
    for (const outcome of SHADOW_OUTCOMES) {
      const n = batch.totals?.[outcome]
      if (Number.isSafeInteger(n) && n > 0) this.#add(outcome, n)
    }
    for (const reason of DROP_REASONS) {
      const n = batch.dropped_reasons?.[reason]
      if (Number.isSafeInteger(n) && n > 0) {
        this.droppedReasons[reason] += n
        this.#onDrop?.(reason, n)
      }
    }
    if (Number.isSafeInteger(batch.other) && batch.other > 0) this.#other += batch.other
    for (const b of Array.isArray(batch.classes) ? batch.classes : []) {
      if (!Number.isSafeInteger(b.count) || b.count <= 0) continue
      const c = this.#classOf(classKey(b.method, b.route, b.x_status, b.y_status), b.method, b.route, b.x_status, b.y_status)
      if (c === undefined) {
        this.#other += b.count
        continue
      }
      c.count += b.count
      if (Array.isArray(b.differences)) addDifferences(c.differences, b.differences)
      if (Array.isArray(b.samples)) for (const s of b.samples) if (c.samples.length < SAMPLES_PER_CLASS) c.samples.push(s)
    }
  }

  #add(outcome: ShadowOutcome, n: number): void {
    this.totals[outcome] += n
    this.#onOutcome?.(outcome, n)
  }

  /** The class of key, made when there is room; undefined past MAX_CLASSES. */
  #classOf(key: string, method: string, route: string, xStatus: number, yStatus: number): MismatchClass | undefined {
    let c = this.#classes.get(key)
    if (c === undefined) {
      if (this.#classes.size >= MAX_CLASSES) return undefined
      c = { method, route, x_status: xStatus, y_status: yStatus, count: 0, differences: [], samples: [] }
      this.#classes.set(key, c)
    }
    return c
  }

  mark(): ShadowMark {
    return { match: this.totals.match, mismatch: this.totals.mismatch }
  }

  /** Compared answers since mark, and how many disagreed. */
  since(mark: ShadowMark): { compared: number; mismatches: number } {
    const mismatches = this.totals.mismatch - mark.mismatch
    return { compared: this.totals.match - mark.match + mismatches, mismatches }
  }

  /** The body of GET /v1/shadow: the top classes first. */
  report(top = 20): ShadowReport {
    const compared = this.totals.match + this.totals.mismatch
    const classes = [...this.#classes.values()].sort((a, b) => b.count - a.count).slice(0, top)
    return {
      share: this.share,
      totals: { ...this.totals },
      dropped_reasons: { ...this.droppedReasons },
      mismatch_rate: compared === 0 ? null : this.totals.mismatch / compared,
      classes: classes.map((c) => ({ ...c, differences: [...c.differences], samples: c.samples.map((s) => ({ ...s })) })),
      other_mismatches: this.#other,
    }
  }
}

/** /a?key=secret&b=1 -> /a?key=…&b=… : query values may carry credentials (Kong's key-auth reads ?apikey=). */
export function redactQuery(target: string): string {
  const q = target.indexOf('?')
  if (q < 0) return target
  const names = target
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      return eq < 0 ? pair : `${pair.slice(0, eq)}=…`
    })
  return `${target.slice(0, q)}?${names.join('&')}`
}
