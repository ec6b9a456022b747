/**
 * The demo's steady background traffic: GETs through the proxy at a fixed rate, each from
 * one of a pool of fake consumers (x-consumer-id) so sticky assignment shows, with a
 * bounded number in flight. It counts answers per Kong version (from the `server` header)
 * and can print a one-line summary every few seconds.
 */

import { Pool } from 'undici'
import { systemClock, systemRandom, type Clock, type Random, type TimerHandle } from '../clock.js'

export interface LoadOptions {
  /** the proxy's base URL, e.g. http://127.0.0.1:8080 */
  url: string
  /** requests per second; 0 sends nothing */
  rps: number
  /** number of fake consumers; default 200 */
  consumers?: number
  /** most requests in flight; a tick that finds them all busy skips; default 32 */
  maxInflight?: number
  /** how often to call `summary`, ms; default 5000 */
  summaryEveryMs?: number
  /** one summary line per period; absent: no summaries (--quiet) */
  summary?: (line: string) => void
  /** pool name per version, to label the summary: { '3.4.2': 'x', '3.9.1': 'y' } */
  labels?: Record<string, string>
  clock?: Clock
  random?: Random
}

/** Answers counted over a period (or since start). */
export interface LoadCounts {
  /** responses received, any status */
  answered: number
  /** 5xx responses and requests that got no response */
  errors: number
  /** ticks' requests not sent because maxInflight were busy */
  skipped: number
  /** responses carrying a kong/<version> server header, by version */
  byVersion: Map<string, number>
}

export interface LoadGenerator {
  /** everything since start */
  readonly totals: Readonly<LoadCounts>
  /** stop sending, drop what is in flight */
  close(): Promise<void>
}

const TICK_MS = 100
const PATHS = ['/orders', '/orders/1042', '/users/me', '/catalog/items?page=2', '/payments/status']

/** Start sending; rps 0 gives a generator that sends nothing. */
export function startLoad(options: LoadOptions): LoadGenerator {
  const totals = newCounts()
  if (!(options.rps > 0)) return { totals, close: async () => {} }

  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const maxInflight = options.maxInflight ?? 32
  const summaryEvery = options.summaryEveryMs ?? 5000
  const perTick = (options.rps * TICK_MS) / 1000
  const consumerCount = options.consumers ?? 200
  // one header object per consumer, built once: requests reuse them
  const consumers: Record<string, string>[] = []
  for (let i = 0; i < consumerCount; i++) consumers.push({ 'x-consumer-id': `consumer-${String(i + 1).padStart(3, '0')}` })

  const pool = new Pool(new URL(options.url).origin, {
    connections: maxInflight,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  let period = newCounts()
  let periodStart = clock.now()
  let credit = 0
  let inflight = 0
  let closed = false
  let tickTimer: TimerHandle | null = null
  let summaryTimer: TimerHandle | null = null

  function record(counts: LoadCounts, status: number, version: string | null): void {
    counts.answered++
    if (status >= 500) counts.errors++
    if (version !== null) counts.byVersion.set(version, (counts.byVersion.get(version) ?? 0) + 1)
  }

  async function sendOne(): Promise<void> {
    inflight++
    try {
      const res = await pool.request({
        method: 'GET',
        path: PATHS[Math.floor(random() * PATHS.length)],
        headers: consumers[Math.floor(random() * consumers.length)],
      })
      await res.body.dump()
      if (closed) return
      const server = res.headers.server
      const version = typeof server === 'string' && server.startsWith('kong/') ? server.slice(5) : null
      record(totals, res.statusCode, version)
      record(period, res.statusCode, version)
    } catch {
      if (closed) return
      totals.errors++
      period.errors++
    } finally {
      inflight--
    }
  }

  function tick(): void {
    if (closed) return
    credit += perTick
    while (credit >= 1) {
      credit -= 1
      if (inflight >= maxInflight) {
        totals.skipped++
        period.skipped++
      } else {
        void sendOne()
      }
    }
    tickTimer = clock.setTimeout(tick, TICK_MS)
  }

  function report(): void {
    if (closed) return
    const now = clock.now()
    options.summary?.(formatSummary(period, now - periodStart, options.labels ?? {}))
    period = newCounts()
    periodStart = now
    summaryTimer = clock.setTimeout(report, summaryEvery)
  }

  tickTimer = clock.setTimeout(tick, TICK_MS)
  if (options.summary) summaryTimer = clock.setTimeout(report, summaryEvery)

  return {
    totals,
    async close() {
      if (closed) return
      closed = true
      clock.clearTimeout(tickTimer)
      clock.clearTimeout(summaryTimer)
      await pool.destroy()
    },
  }
}

/** One summary line: `traffic: 20 req/s  x 3.4.2: 90%  y 3.9.1: 10%  errors: 0`. */
export function formatSummary(counts: Readonly<LoadCounts>, periodMs: number, labels: Record<string, string>): string {
  const rate = periodMs > 0 ? (counts.answered * 1000) / periodMs : 0
  let line = `traffic: ${formatRate(rate)} req/s`
  let versioned = 0
  for (const n of counts.byVersion.values()) versioned += n
  // labelled versions first, in label order (x before y), then any other version seen
  const versions = [...Object.keys(labels).filter((v) => counts.byVersion.has(v))]
  for (const v of counts.byVersion.keys()) if (!(v in labels)) versions.push(v)
  for (const v of versions) {
    const share = versioned > 0 ? (100 * (counts.byVersion.get(v) ?? 0)) / versioned : 0
    line += `  ${labels[v] ? `${labels[v]} ` : ''}${v}: ${Math.round(share)}%`
  }
  line += `  errors: ${counts.errors}`
  if (counts.skipped > 0) line += `  skipped: ${counts.skipped}`
  return line
}

function formatRate(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : String(Math.round(rate * 10) / 10)
}

function newCounts(): LoadCounts {
  return { answered: 0, errors: 0, skipped: 0, byVersion: new Map() }
}
