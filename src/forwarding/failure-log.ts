/**
 * Why a node's attempt failed, in the log. `cutover_upstream_errors_total` counts every
 * failure by kind; an operator whose y answers 502s also needs to know what the node did
 * (refused the connection, answered `Content-Length` with `Transfer-Encoding`, stalled
 * mid-body) and what the client got. One warn line per node and failure (kind and why) at
 * most every INTERVAL, saying how many more failed the same way since the line before, so
 * a node that fails every request costs a few lines, never one per request.
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { FailureKind, OutcomeReport } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'

/** at most one line per node and failure in this many ms */
export const FAILURE_LOG_INTERVAL = 10_000

/** distinct failures remembered per node; past them, one line per kind (a node choosing its error texts cannot grow the map) */
const MAX_KEYS = 32

/** What the client got after the failed attempt. */
export type FailureThen =
  | { retried: UpstreamNode }
  /** cutover's own error answer (502, 503, 504) */
  | { answered: number }
  /** the answer had started: the client's connection or stream was cut */
  | 'cut'
  /** the client had gone: nobody was answered */
  | 'client gone'

interface Last {
  /** when the last line for this node and failure was written (monotonic ms) */
  at: number
  /** failures since, not written */
  more: number
}

export class FailureLog {
  readonly #logger: Logger
  readonly #clock: Clock
  /** told of each line written (the health monitor keeps the node's last one for the API) */
  readonly #sink: Pick<OutcomeReport, 'failureExplained'> | undefined
  /** per node (a node replaced by a reload takes its history with it), by `kind why` */
  readonly #last = new WeakMap<UpstreamNode, Map<string, Last>>()

  constructor(logger: Logger, clock: Clock, sink?: Pick<OutcomeReport, 'failureExplained'>) {
    this.#logger = logger
    this.#clock = clock
    this.#sink = sink
  }

  /**
   * One failed attempt of node: kind, why (what the node did, in words) and what the
   * client got. Written at once unless a line for this node, kind and why was written less
   * than FAILURE_LOG_INTERVAL ago.
   */
  note(node: UpstreamNode, kind: FailureKind, why: string, then: FailureThen, protocol: 'http1' | 'h2'): void {
    const now = this.#clock.monotonic()
    let seen = this.#last.get(node)
    if (seen === undefined) {
      seen = new Map()
      this.#last.set(node, seen)
    }
    let key = `${kind} ${why}`
    if (!seen.has(key) && seen.size >= MAX_KEYS) key = kind
    const last = seen.get(key)
    if (last !== undefined && now - last.at < FAILURE_LOG_INTERVAL) {
      last.more++
      return
    }
    const more = last?.more ?? 0
    seen.set(key, { at: now, more: 0 })
    this.#logger.warn(
      {
        pool: node.pool,
        node: node.name,
        kind,
        why,
        outcome: describe(then),
        protocol,
        ...(more > 0 && { more_since_last_line: more }),
      },
      'upstream attempt failed',
    )
    this.#sink?.failureExplained(node, kind, why)
  }
}

function describe(then: FailureThen): string {
  if (typeof then === 'string') return then
  if ('retried' in then) return `retried on ${then.retried.pool}/${then.retried.name}`
  return `answered ${then.answered}`
}

/** A node's socket error in words: its message (`connect ECONNREFUSED 10.0.0.21:8000`), else fallback. */
export function errorWhy(err: Error | null | undefined, fallback: string): string {
  return err?.message ? err.message : fallback
}
