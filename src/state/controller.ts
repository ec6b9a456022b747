/**
 * The one owner of the live state (split, lock, rollout progress). Every change is
 * serialised, written to the state store first and applied in memory only once the
 * write succeeded, so disk and memory never disagree; then it is an event and listeners
 * (routing table, metrics, workers) hear of it.
 */

import { CutoverError, isCutoverError } from '../errors.js'
import type { EventLog } from './events.js'
import type { PoolName } from '../config/types.js'
import { changeNode, nodeChangeDetails, type NodeChangeContext, type NodeChangeRequest } from './node-admin.js'
import { boundLockReason, type Cause, type LiveState } from './types.js'

export interface StateStore {
  /**
   * Persist atomically; rejects when the state could not be written (a CutoverError is
   * passed on as it is, e.g. a shared store's conflict). `change` says what the write is.
   * A store may write a state other than the one given (a shared store's rollback, made
   * again on a newer shared state): it resolves with that state, which is then applied.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a store that writes the state it is given resolves with nothing
  save(state: LiveState, change: Change): Promise<LiveState | void>
}

export type StateListener = (state: Readonly<LiveState>, previous: Readonly<LiveState>) => void

export interface Change {
  /** the event type, e.g. split.changed, rollback, unlock, rollout.step */
  type: string
  cause: Cause
  /** extra event fields */
  details?: Record<string, unknown>
}

export class StateController {
  readonly #store: StateStore
  readonly #events: EventLog
  readonly #listeners = new Set<StateListener>()
  #state: Readonly<LiveState>
  #queue: Promise<unknown> = Promise.resolve()

  constructor(initial: LiveState, store: StateStore, events: EventLog) {
    this.#state = Object.freeze({ ...initial })
    this.#store = store
    this.#events = events
  }

  get current(): Readonly<LiveState> {
    return this.#state
  }

  onChange(listener: StateListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Apply a change computed from the state current at the time it runs (after every
   * change queued before it). `compute` may throw a CutoverError to refuse; returning
   * null means nothing to do. Resolves with the new state once it is on disk.
   */
  update(compute: (state: Readonly<LiveState>) => LiveState | null, change: Change | ((next: LiveState, prev: Readonly<LiveState>) => Change)): Promise<Readonly<LiveState>> {
    const run = async (): Promise<Readonly<LiveState>> => {
      const prev = this.#state
      const next = compute(prev)
      if (next === null) return prev
      const c = typeof change === 'function' ? change(next, prev) : change
      // biome-ignore lint/suspicious/noConfusingVoidType: as save's
      let written: LiveState | void
      try {
        written = await this.#store.save(next, c)
      } catch (err) {
        if (isCutoverError(err)) throw err
        throw new CutoverError('CUTOVER_ERR_STATE_WRITE', `state not saved, nothing changed: ${(err as Error).message}`, { cause: err })
      }
      this.#state = Object.freeze({ ...(written ?? next) })
      this.#events.add(c.type, { cause: c.cause, ...c.details })
      for (const listener of this.#listeners) listener(this.#state, prev)
      return this.#state
    }
    const result = this.#queue.then(run, run)
    this.#queue = result.catch(() => undefined)
    return result
  }

  /**
   * Take a state already written elsewhere (another replica, through a shared store):
   * serialised with the changes made here, not written again, no event (the writer raised
   * it); listeners hear of it. `compute` returns null to take nothing.
   */
  adopt(compute: (state: Readonly<LiveState>) => LiveState | null): Promise<Readonly<LiveState>> {
    const run = async (): Promise<Readonly<LiveState>> => {
      const prev = this.#state
      const next = compute(prev)
      if (next === null) return prev
      this.#state = Object.freeze({ ...next })
      for (const listener of this.#listeners) listener(this.#state, prev)
      return this.#state
    }
    const result = this.#queue.then(run, run)
    this.#queue = result.catch(() => undefined)
    return result
  }

  /** Set the share of y. Refused while locked or while a rollout runs, unless cause is rollout. */
  setSplit(y: number, cause: Cause, details: Record<string, unknown> = {}): Promise<Readonly<LiveState>> {
    return this.update(
      (s) => {
        if (cause !== 'rollout' && cause !== 'startup') {
          if (s.locked) throw new CutoverError('CUTOVER_ERR_LOCKED', `split is locked: ${s.lock_reason ?? 'rolled back'}; POST /v1/unlock first`)
          if (s.rollout) throw new CutoverError('CUTOVER_ERR_ROLLOUT_RUNNING', 'a rollout is running; pause or abort it, or use its endpoints')
        }
        return { ...s, y }
      },
      (next, prev) => ({ type: 'split.changed', cause, details: { from: prev.y, to: next.y, ...details } }),
    )
  }

  /** y to 0 now, lock, stop any rollout. Always applies, even when already locked. A reason past MAX_LOCK_REASON_LENGTH is cut to it. */
  rollback(longReason: string, cause: Cause, details: Record<string, unknown> = {}): Promise<Readonly<LiveState>> {
    const reason = boundLockReason(longReason)
    return this.update(
      (s) => ({ ...s, y: 0, locked: true, lock_reason: reason, rollout: null }),
      (_next, prev) => ({ type: 'rollback', cause, details: { reason, from: prev.y, to: 0, rollout_stopped: prev.rollout !== null, ...details } }),
    )
  }

  /**
   * An operator's change to one node (admin state, runtime weight). `context` is read
   * when the change runs, after every change queued before it, so the last-node rule
   * sees the state it changes.
   */
  changeNode(pool: PoolName, name: string, req: NodeChangeRequest, configWeight: number, context: (state: Readonly<LiveState>) => NodeChangeContext, cause: Cause): Promise<Readonly<LiveState>> {
    return this.update(
      (s) => changeNode(s, pool, name, req, context(s)),
      (next, prev) => ({ type: 'node.admin', cause, details: { ...nodeChangeDetails(prev, next, pool, name, configWeight), ...(req.force ? { force: true } : {}) } }),
    )
  }

  /** Clear the lock; the split stays where it is. */
  unlock(cause: Cause): Promise<Readonly<LiveState>> {
    return this.update((s) => (s.locked ? { ...s, locked: false, lock_reason: null } : null), { type: 'unlock', cause })
  }
}
