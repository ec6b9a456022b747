/**
 * A warning about something that, once it goes wrong, goes wrong for every connection or
 * request (a balancer that sends no PROXY header, gRPC callers and no node with an h2
 * address): written at most once per interval, each line counting those it left out.
 */

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'

const EVERY_MS = 10_000

export class ThrottledWarning {
  readonly #logger: Logger
  readonly #clock: Clock
  readonly #message: string
  #last = Number.NEGATIVE_INFINITY
  #missed = 0

  constructor(logger: Logger, clock: Clock, message: string) {
    this.#logger = logger
    this.#clock = clock
    this.#message = message
  }

  warn(fields: Record<string, unknown>): void {
    const now = this.#clock.monotonic()
    if (now - this.#last < EVERY_MS) {
      this.#missed++
      return
    }
    this.#last = now
    this.#logger.warn({ ...fields, more_since_last_line: this.#missed }, this.#message)
    this.#missed = 0
  }
}
