/**
 * The audit log: a bounded ring of events, each with a growing id, an ISO time, a type
 * and its details. Readers poll with since=ID or subscribe.
 */

import type { Clock } from '../clock.js'
import { currentActor } from './actor.js'

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
  #sink: ((event: CutoverEvent) => void) | undefined
  #nextId = 1

  constructor(clock: Clock, capacity = 1000) {
    this.#clock = clock
    this.#capacity = capacity
  }

  /**
   * Append an event; details must not use the keys id, at or type. An event caused by the
   * API says who acted (role) and from where (remote), see ./actor.ts.
   */
  add(type: string, details: Record<string, unknown> = {}): CutoverEvent {
    const actor = details.cause === 'api' ? currentActor() : undefined
    const event: CutoverEvent = { ...details, ...(actor ? { role: actor.role, remote: actor.remote } : {}), id: this.#nextId++, at: new Date(this.#clock.now()).toISOString(), type }
    this.#push(event)
    this.#sink?.(event)
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // a failing listener must not break the one who raised the event
      }
    }
    return event
  }

  /**
   * Take back events written before a restart (the audit file), oldest first, before any
   * new one: the ring keeps the newest and ids go on from the last. Listeners are not told.
   */
  restore(events: readonly CutoverEvent[]): void {
    for (const e of events) {
      if (e.id < this.#nextId) continue
      this.#push(e)
      this.#nextId = e.id + 1
    }
  }

  /** Where every new event is also written (the audit file); one sink. */
  setSink(sink: ((event: CutoverEvent) => void) | undefined): void {
    this.#sink = sink
  }

  #push(event: CutoverEvent): void {
    this.#ring.push(event)
    if (this.#ring.length > this.#capacity) this.#ring.shift()
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
