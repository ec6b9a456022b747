/**
 * What shadowing found: counts by outcome, and the mismatch classes (method + route
 * pattern + x status -> y status) with a few samples each, redacted: credentials, cookies,
 * the configured headers and every query value are never stored. Bounded in memory.
 */

import type { Clock } from '../clock.js'

export const SHADOW_OUTCOMES = ['match', 'mismatch', 'error', 'dropped'] as const
export type ShadowOutcome = (typeof SHADOW_OUTCOMES)[number]

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

const MAX_DIFFERENCES_KEPT = 10

export class ShadowResults {
  readonly totals: Record<ShadowOutcome, number> = { match: 0, mismatch: 0, error: 0, dropped: 0 }
  readonly #classes = new Map<string, MismatchClass>()
  #other = 0
  #redacted: ReadonlySet<string>
  readonly #clock: Clock
  readonly #onOutcome: ((outcome: ShadowOutcome) => void) | undefined
  share = 0

  constructor(options: { clock: Clock; redact?: readonly string[]; onOutcome?: (outcome: ShadowOutcome) => void }) {
    this.#clock = options.clock
    this.#onOutcome = options.onOutcome
    this.#redacted = new Set([...ALWAYS_REDACTED, ...(options.redact ?? [])])
  }

  /** Headers named by a reload are redacted from then on. */
  configure(share: number, redact: readonly string[]): void {
    this.share = share
    this.#redacted = new Set([...ALWAYS_REDACTED, ...redact])
  }

  count(outcome: ShadowOutcome): void {
    this.totals[outcome]++
    this.#onOutcome?.(outcome)
  }

  mismatch(m: MismatchInput): void {
    this.count('mismatch')
    const key = `${m.method} ${m.route} ${m.xStatus} ${m.yStatus}`
    let c = this.#classes.get(key)
    if (c === undefined) {
      if (this.#classes.size >= MAX_CLASSES) {
        this.#other++
        return
      }
      c = { method: m.method, route: m.route, x_status: m.xStatus, y_status: m.yStatus, count: 0, differences: [], samples: [] }
      this.#classes.set(key, c)
    }
    c.count++
    for (const d of m.differences) if (c.differences.length < MAX_DIFFERENCES_KEPT && !c.differences.includes(d)) c.differences.push(d)
    if (c.samples.length < SAMPLES_PER_CLASS)
      c.samples.push({ at: new Date(this.#clock.now()).toISOString(), target: redactQuery(m.target), headers: this.#redact(m.requestHeaders), differences: m.differences })
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
      mismatch_rate: compared === 0 ? null : this.totals.mismatch / compared,
      classes: classes.map((c) => ({ ...c, differences: [...c.differences], samples: c.samples.map((s) => ({ ...s })) })),
      other_mismatches: this.#other,
    }
  }

  #redact(flat: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i].toLowerCase()
      const value = this.#redacted.has(name) ? '[redacted]' : flat[i + 1]
      out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`
    }
    return out
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
