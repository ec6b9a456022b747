/**
 * Posts notable events (rollbacks, locks, rollout steps, health transitions) to a webhook
 * as JSON with a Slack-compatible `text`. Entirely off the data plane: events are queued
 * (bounded, oldest dropped first) and sent one at a time, in order, with retries and
 * exponential backoff driven by the injected clock.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import type { CutoverEvent, EventLog } from '../state/events.js'
import { eventText, isNotified } from './event-text.js'

export const WEBHOOK_TIMEOUT_MS = 5_000
export const WEBHOOK_MAX_ATTEMPTS = 5
export const WEBHOOK_BACKOFF_BASE_MS = 1_000
export const WEBHOOK_BACKOFF_MAX_MS = 60_000
/** Drops are logged on the first and then every this many, so a dead webhook cannot flood the log. */
const DROP_LOG_EVERY = 100

export interface WebhookOptions {
  url: string
  events: EventLog
  clock: Clock
  logger: Pick<Logger, 'warn'>
  fetch?: typeof fetch
  /** most events waiting; the oldest is dropped past it (default 1000) */
  queueLimit?: number
  /** an event given up: its attempts failed, or the webhook refused it with a 4xx */
  onFailure?: () => void
  /** an event dropped unsent because the queue was full */
  onDropped?: () => void
}

export interface WebhookStats {
  sent: number
  failed: number
  dropped: number
  retries: number
  queued: number
}

/** The wait before attempt n+1 after n failed attempts: 1 s, 2 s, 4 s ... at most 60 s. */
export function backoffMs(failedAttempts: number): number {
  return Math.min(WEBHOOK_BACKOFF_MAX_MS, WEBHOOK_BACKOFF_BASE_MS * 2 ** Math.max(0, failedAttempts - 1))
}

/** Seconds of a Retry-After header in ms, capped; 0 when absent or not a number of seconds. */
function retryAfterMs(header: string | null): number {
  if (!header) return 0
  const s = Number(header)
  return Number.isFinite(s) && s > 0 ? Math.min(WEBHOOK_BACKOFF_MAX_MS, s * 1000) : 0
}

/** Call a metric callback; its failure must not stop the queue. */
function safely(fn: (() => void) | undefined): void {
  try {
    fn?.()
  } catch {
    // a broken counter is not worth losing notifications over
  }
}

type Outcome = { ok: true } | { ok: false; retry: boolean; why: string; waitMs?: number }

export class WebhookNotifier {
  readonly #url: string
  readonly #clock: Clock
  readonly #logger: Pick<Logger, 'warn'>
  readonly #fetch: typeof fetch
  readonly #limit: number
  readonly #onFailure?: () => void
  readonly #onDropped?: () => void
  readonly #unsubscribe: () => void
  readonly #queue: CutoverEvent[] = []
  #attempts = 0
  #inflight: Promise<void> | null = null
  #abort: AbortController | null = null
  #retryTimer: TimerHandle | null = null
  #stopped = false
  readonly #stats = { sent: 0, failed: 0, dropped: 0, retries: 0 }

  constructor(options: WebhookOptions) {
    this.#url = options.url
    this.#clock = options.clock
    this.#logger = options.logger
    this.#fetch = options.fetch ?? fetch
    this.#limit = Math.max(1, options.queueLimit ?? 1000)
    this.#onFailure = options.onFailure
    this.#onDropped = options.onDropped
    this.#unsubscribe = options.events.subscribe((event) => this.#enqueue(event))
  }

  /** Counters since start, and the events waiting. */
  get stats(): WebhookStats {
    return { ...this.#stats, queued: this.#queue.length }
  }

  /** Resolves once no POST is in flight (the queue is empty, or waiting out a backoff). */
  async whenIdle(): Promise<void> {
    while (this.#inflight !== null) await this.#inflight
  }

  /** Stop listening and cancel the retry timer and any POST in flight; queued events are dropped. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#unsubscribe()
    this.#clock.clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    this.#abort?.abort()
    this.#queue.length = 0
  }

  #enqueue(event: CutoverEvent): void {
    try {
      // in a fleet, an event another replica raised (replica set) is notified by that replica
      if (this.#stopped || !isNotified(event.type) || event.replica !== undefined) return
      if (this.#queue.length >= this.#limit) {
        // the head may be the one in flight or backing off; drop the oldest waiting behind it
        const busy = this.#inflight !== null || this.#retryTimer !== null
        this.#queue.splice(busy && this.#queue.length > 1 ? 1 : 0, 1)
        if (!busy) this.#attempts = 0
        this.#stats.dropped++
        safely(this.#onDropped)
        if (this.#stats.dropped === 1 || this.#stats.dropped % DROP_LOG_EVERY === 0) {
          this.#logger.warn({ dropped: this.#stats.dropped, queue_limit: this.#limit }, 'webhook queue full: oldest event dropped')
        }
      }
      this.#queue.push(event)
      this.#pump()
    } catch {
      // a notification problem must never reach whoever raised the event
    }
  }

  #pump(): void {
    if (this.#stopped || this.#inflight !== null || this.#retryTimer || this.#queue.length === 0) return
    const event = this.#queue[0]
    this.#inflight = this.#attempt(event)
      .catch(() => undefined)
      .finally(() => {
        this.#inflight = null
        this.#pump()
      })
  }

  async #attempt(event: CutoverEvent): Promise<void> {
    this.#attempts++
    const outcome = await this.#post(event)
    if (this.#stopped) return
    if (outcome.ok) {
      this.#stats.sent++
      this.#done(event)
      return
    }
    if (outcome.retry && this.#attempts < WEBHOOK_MAX_ATTEMPTS) {
      this.#stats.retries++
      const wait = Math.max(backoffMs(this.#attempts), outcome.waitMs ?? 0)
      this.#retryTimer = this.#clock.setTimeout(() => {
        this.#retryTimer = null
        this.#pump()
      }, wait)
      return
    }
    const attempts = this.#attempts
    this.#stats.failed++
    this.#done(event)
    safely(this.#onFailure)
    this.#logger.warn({ event_id: event.id, type: event.type, attempts, why: outcome.why }, 'webhook: event not delivered, given up')
  }

  #done(event: CutoverEvent): void {
    if (this.#queue[0] === event) this.#queue.shift()
    this.#attempts = 0
  }

  async #post(event: CutoverEvent): Promise<Outcome> {
    const abort = new AbortController()
    this.#abort = abort
    const timer = this.#clock.setTimeout(() => abort.abort(), WEBHOOK_TIMEOUT_MS)
    try {
      const res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: eventText(event), event }),
        signal: abort.signal,
        redirect: 'error',
      })
      // the answer's body is of no use; release the connection
      await res.body?.cancel().catch(() => undefined)
      if (res.status >= 200 && res.status < 300) return { ok: true }
      const retry = res.status === 429 || res.status >= 500
      return { ok: false, retry, why: `HTTP ${res.status}`, waitMs: res.status === 429 ? retryAfterMs(res.headers.get('retry-after')) : 0 }
    } catch (err) {
      const why = abort.signal.aborted ? `timeout after ${WEBHOOK_TIMEOUT_MS}ms` : (err as Error).message
      return { ok: false, retry: true, why }
    } finally {
      this.#clock.clearTimeout(timer)
      if (this.#abort === abort) this.#abort = null
    }
  }
}
