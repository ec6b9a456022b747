/**
 * The HTTP/2 flood defences cutover adds to nghttp2's own (issue 12). nghttp2, inside
 * Node, already ends a session that floods it with CONTINUATION frames (a header block
 * split into too many), or with PINGs or SETTINGS whose ACKs pile up unread (1000 queued),
 * and refuses a stream whose header list is too long. What it does not stop on Node 20 is
 * rapid reset (CVE-2023-44487): streams opened and reset at once, each costing the proxy
 * an upstream request, and floods far below its 1000-frame bar. So each session gets token
 * buckets for resets, PINGs and SETTINGS; an empty bucket ends the session with GOAWAY
 * ENHANCE_YOUR_CALM. Pure: the time is passed in.
 */

import type { RefusalReason } from '../outcome/outcome-sink.js'

/** Why a client's HTTP/2 session was ended (a reason of cutover_requests_refused_total). */
export type H2Refusal = Extract<RefusalReason, `h2_${string}`>

/** A bucket's size (a burst allowed at once) and refill per second. */
export interface BucketLimit {
  burst: number
  perSecond: number
}

export interface FloodLimits {
  /** streams the client reset before cutover answered them */
  resets: BucketLimit
  pings: BucketLimit
  /** SETTINGS frames after the first */
  settings: BucketLimit
}

/**
 * Generous for real clients (a browser cancels a handful of streams on a navigation,
 * gRPC keepalive pings every few seconds at most), far below what a flood needs.
 */
export const DEFAULT_FLOOD_LIMITS: FloodLimits = {
  resets: { burst: 100, perSecond: 20 },
  pings: { burst: 20, perSecond: 2 },
  settings: { burst: 10, perSecond: 1 },
}

/** A token bucket: take() is false once the burst and the refill are spent. */
export class TokenBucket {
  readonly limit: BucketLimit
  #tokens: number
  #at: number

  constructor(limit: BucketLimit, now: number) {
    this.limit = limit
    this.#tokens = limit.burst
    this.#at = now
  }

  /** Spend one token at monotonic ms now; false when none is left. */
  take(now: number): boolean {
    const elapsed = now - this.#at
    if (elapsed > 0) {
      this.#tokens = Math.min(this.limit.burst, this.#tokens + (elapsed * this.limit.perSecond) / 1000)
      this.#at = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** One client session's buckets. */
export class FloodGuard {
  readonly #resets: TokenBucket
  readonly #pings: TokenBucket
  readonly #settings: TokenBucket

  constructor(limits: FloodLimits, now: number) {
    this.#resets = new TokenBucket(limits.resets, now)
    this.#pings = new TokenBucket(limits.pings, now)
    this.#settings = new TokenBucket(limits.settings, now)
  }

  /** The client reset a stream cutover had not answered: undefined, or why the session must end. */
  reset(now: number): H2Refusal | undefined {
    return this.#resets.take(now) ? undefined : 'h2_rapid_reset'
  }

  ping(now: number): H2Refusal | undefined {
    return this.#pings.take(now) ? undefined : 'h2_ping_flood'
  }

  settings(now: number): H2Refusal | undefined {
    return this.#settings.take(now) ? undefined : 'h2_settings_flood'
  }
}

/** The refusal a session error from nghttp2 stands for (Node passes nghttp2's message on). */
export function refusalOfSessionError(err: { code?: string; message?: string } | undefined): H2Refusal {
  const message = err?.message ?? ''
  if (/CONTINUATION/i.test(message)) return 'h2_continuation_flood'
  if (/flood/i.test(message)) return 'h2_flood'
  return 'h2_protocol_error'
}
