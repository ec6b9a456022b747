/**
 * The audit log: a bounded ring of events, each with a growing id, an ISO time, a type
 * and its details. Readers poll with since=ID or subscribe.
 */

import type { Clock } from '../clock.js'

export interface CutoverEvent {
  id: number
  at: string
  type: string
  [detail: string]: unknown
}

export type EventListener = (event: CutoverEvent) => void

export class EventLog {
  readonly #clock: Clock
  readonly #capacity: number
  readonly #ring: CutoverEvent[] = []
  readonly #listeners = new Set<EventListener>()
  #nextId = 1

  constructor(clock: Clock, capacity = 1000) {
    this.#clock = clock
    this.#capacity = capacity
  }

  /** Append an event; details must not use the keys id, at or type. */
  add(type: string, details: Record<string, unknown> = {}): CutoverEvent {
    const event: CutoverEvent = { ...details, id: this.#nextId++, at: new Date(this.#clock.now()).toISOString(), type }
    this.#ring.push(event)
    if (this.#ring.length > this.#capacity) this.#ring.shift()
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // a failing listener must not break the one who raised the event
      }
    }
    return event
  }

  /** Events with an id above `since`, oldest first. */
  since(since = 0, limit = this.#capacity): CutoverEvent[] {
    const out: CutoverEvent[] = []
    for (const e of this.#ring) {
      if (e.id > since) {
        out.push(e)
        if (out.length >= limit) break
      }
    }
    return out
  }

  get lastId(): number {
    return this.#nextId - 1
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
