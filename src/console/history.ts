/**
 * Traffic of the last 15 minutes for the console's charts: per pool, a ring of 180
 * five-second slots (requests, errors, a latency histogram for p99). Recording is O(1)
 * and allocation-free; the series are built only when the console asks.
 */

import type { Clock } from '../clock.js'
import type { PoolName } from '../config/types.js'
import { LatencyHistogram } from '../gates/latency-histogram.js'
import { DEFAULT_GRPC_FAILURES, type GrpcMask, grpcMask, isGrpcFailure } from '../h2/grpc-status.js'
import { isFailedAnswer, NO_GRPC, type OutcomeSink, type Protocol } from '../outcome/outcome-sink.js'

export const HISTORY_SLOT_MS = 5_000
export const HISTORY_SLOTS = 180

export interface HistoryPoint {
  /** ms epoch of the slot's start */
  t: number
  requests_per_s: number
  /** errors / requests; null when the slot saw no request */
  error_rate: number | null
  /** null when the slot saw no request */
  p99_ms: number | null
}

export interface HistorySnapshot {
  slot_ms: number
  /** ms epoch when the snapshot was taken */
  now: number
  pools: Record<PoolName, HistoryPoint[]>
}

/** One pool's ring. A slot is identified by floor(t / slot_ms); a stale id means empty. */
class PoolRing {
  readonly ids = new Float64Array(HISTORY_SLOTS).fill(-1)
  readonly requests = new Uint32Array(HISTORY_SLOTS)
  readonly errors = new Uint32Array(HISTORY_SLOTS)
  readonly latency: LatencyHistogram[] = []

  constructor() {
    for (let i = 0; i < HISTORY_SLOTS; i++) this.latency.push(new LatencyHistogram())
  }

  record(slot: number, isError: boolean, ms: number): void {
    const i = slot % HISTORY_SLOTS
    if (this.ids[i] !== slot) {
      // the slot last held traffic 15 minutes (or more) ago: reuse it
      this.ids[i] = slot
      this.requests[i] = 0
      this.errors[i] = 0
      this.latency[i].clear()
    }
    this.requests[i]++
    if (isError) this.errors[i]++
    this.latency[i].add(ms)
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

export class TrafficHistory implements OutcomeSink {
  readonly #clock: Clock
  readonly #x = new PoolRing()
  readonly #y = new PoolRing()
  /** gates.grpc_failures as a mask: a call is an error here exactly when the gates count it as one */
  #grpcFailures: GrpcMask

  constructor(clock: Clock, grpcFailures: GrpcMask = grpcMask(DEFAULT_GRPC_FAILURES)) {
    this.#clock = clock
    this.#grpcFailures = grpcFailures
  }

  /** gates.grpc_failures changed (a reload). */
  setGrpcFailures(mask: GrpcMask): void {
    this.#grpcFailures = mask
  }

  /**
   * Count one client request in its pool's current slot. An error as the gates count one
   * (isFailedAnswer): a 5xx, or a gRPC call whose grpc-status is in gates.grpc_failures
   * (usually answered HTTP 200).
   */
  finished(pool: PoolName, status: number, ms: number, _protocol?: Protocol, grpc: number = NO_GRPC): void {
    const slot = Math.floor(this.#clock.now() / HISTORY_SLOT_MS)
    ;(pool === 'x' ? this.#x : this.#y).record(slot, isFailedAnswer(status, isGrpcFailure(grpc, this.#grpcFailures)), ms)
  }

  /** Both pools' last 180 slots, oldest first, empty slots included. */
  snapshot(): HistorySnapshot {
    const now = this.#clock.now()
    return { slot_ms: HISTORY_SLOT_MS, now, pools: { x: this.#series(this.#x, now), y: this.#series(this.#y, now) } }
  }

  #series(ring: PoolRing, now: number): HistoryPoint[] {
    const current = Math.floor(now / HISTORY_SLOT_MS)
    const out: HistoryPoint[] = []
    for (let slot = current - HISTORY_SLOTS + 1; slot <= current; slot++) {
      const t = slot * HISTORY_SLOT_MS
      const i = ((slot % HISTORY_SLOTS) + HISTORY_SLOTS) % HISTORY_SLOTS
      const requests = ring.ids[i] === slot ? ring.requests[i] : 0
      if (requests === 0) {
        out.push({ t, requests_per_s: 0, error_rate: null, p99_ms: null })
        continue
      }
      // the current slot is still filling: its rate is over the time it has run (at least 1 s)
      const seconds = slot === current ? Math.max(1, (now - t) / 1000) : HISTORY_SLOT_MS / 1000
      out.push({
        t,
        requests_per_s: round(requests / seconds, 2),
        error_rate: round(ring.errors[i] / requests, 4),
        p99_ms: round(ring.latency[i].quantile(0.99), 1),
      })
    }
    return out
  }
}
