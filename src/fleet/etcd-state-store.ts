/**
 * The live state in etcd, shared by every replica (issue 11). One key, `<prefix>/state`,
 * holds the same JSON as the state file. A write is a compare-and-swap on the revision of
 * the state this replica holds: a change made elsewhere first gives 409, never a lost
 * update. Every change is watched and adopted by every replica. Every value read is
 * validated; a bad one is refused with an event, never applied.
 *
 * etcd unreachable: writes answer 503 and routing stays at the last known state, except a
 * rollback, which is applied here at once (safety first) and written as soon as etcd
 * answers again; nothing read on reconnect undoes it.
 */

import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../clock.js'
import { CutoverError } from '../errors.js'
import type { Change, StateController, StateStore } from '../state/controller.js'
import type { EventLog } from '../state/events.js'
import { parseStateFile } from '../state/store.js'
import { STATE_FORMAT_VERSION, type LiveState, type StateFile } from '../state/types.js'
import type { EtcdConnection, KeptWatch } from './etcd-connection.js'

const { randomUUID } = process.getBuiltinModule('node:crypto')

/** The state key is read again this often, whatever the watch delivered. */
export const RESYNC_EVERY_MS = 1000
/** ids of values held that are remembered, to tell a value etcd shows again from one written since */
const HELD_WRITES_KEPT = 256
/** Tries of a rollback that meets a concurrent change: it always wins, on the fresh revision. */
const ROLLBACK_TRIES = 5

export interface Initial {
  state: LiveState
  event: [string, Record<string, unknown>]
}

interface Read {
  /** mod revision of the key; 0 when absent */
  revision: number
  state: LiveState | null
  /** why the value is unusable; null when absent or valid */
  invalid: string | null
  updatedAt: number
  /** the id of the write that put the value (see encode); null when it has none */
  write?: string | null
}

export interface EtcdStateStoreOptions {
  conn: EtcdConnection
  replicaId: string
  clock: Clock
  logger: Logger
  events: EventLog
  /** a remote change was adopted, `ms` after it was written (the writer's updated_at) */
  onPropagation?: (ms: number) => void
}

/** `write`: this write's own id, so a replica can tell its own write in etcd after losing etcd's answer to it. */
function encode(state: LiveState, now: number, replica: string, write: string): string {
  // fields other issues add to the live state (node admin, ...) travel as they are
  const { y, locked, lock_reason, rollout, ...more } = state
  const file: StateFile & { written_by: string; write: string } = {
    version: STATE_FORMAT_VERSION,
    updated_at: new Date(now).toISOString(),
    split: { y },
    locked,
    lock_reason,
    rollout,
    ...more,
    written_by: replica,
    write,
  }
  return JSON.stringify(file)
}

function decode(value: Buffer | null, revision: number): Read {
  if (value === null) return { revision: 0, state: null, invalid: null, updatedAt: NaN }
  let data: unknown
  try {
    data = JSON.parse(value.toString('utf8'))
  } catch (err) {
    return { revision, state: null, invalid: `not JSON: ${(err as Error).message}`, updatedAt: NaN }
  }
  const parsed = parseStateFile(data)
  if (typeof parsed === 'string') return { revision, state: null, invalid: parsed, updatedAt: NaN }
  const write = (data as { write?: unknown }).write
  return { revision, state: parsed, invalid: null, updatedAt: Date.parse((data as StateFile).updated_at), write: typeof write === 'string' ? write : null }
}

/**
 * A rollback made again on another state: y 0, locked with its reason, no rollout; the
 * rest (node admin changes, and whatever other issues add) is the other state's, so a
 * rollback written over a change it had not seen does not undo that change.
 */
function rolledBack(base: Readonly<LiveState>, rollback: Readonly<LiveState>): LiveState {
  return { ...base, y: rollback.y, locked: rollback.locked, lock_reason: rollback.lock_reason, rollout: rollback.rollout }
}

/** Whether two states are alike (a false "no" only tells the listeners once more). */
function same(a: Readonly<LiveState>, b: Readonly<LiveState>): boolean {
  const { y: ay, locked: al, lock_reason: ar, rollout: ao, ...amore } = a
  const { y: by, locked: bl, lock_reason: br, rollout: bo, ...bmore } = b
  return ay === by && al === bl && ar === br && JSON.stringify(ao) === JSON.stringify(bo) && JSON.stringify(amore) === JSON.stringify(bmore)
}

export class EtcdStateStore implements StateStore {
  readonly #conn: EtcdConnection
  readonly #id: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #events: EventLog
  readonly #onPropagation?: (ms: number) => void
  readonly #key: string
  /** mod revision of the state held in memory (0: the key is absent): what a write compares */
  #revision = 0
  /** a rollback applied here while etcd could not be reached; written once it can */
  #pending: LiveState | null = null
  #controller: StateController | null = null
  #watch: KeptWatch | null = null
  #timer: TimerHandle | null = null
  /** why the held state must be written back (etcd lost it); null: nothing to write back */
  #restoring: string | null = null
  #resyncing: Promise<void> | null = null
  /** ids of the values this replica held (written, adopted): a value etcd shows again after going back in time is one of these */
  readonly #held = new Set<string>()
  #invalidSeen = 0
  #closed = false

  constructor(options: EtcdStateStoreOptions) {
    this.#conn = options.conn
    this.#id = options.replicaId
    this.#clock = options.clock
    this.#logger = options.logger
    this.#events = options.events
    this.#onPropagation = options.onPropagation
    this.#key = options.conn.key('state')
  }

  /** Whether a rollback made while etcd was down still waits to be written. */
  get pendingRollback(): boolean {
    return this.#pending !== null
  }

  /**
   * The state to start from: the shared one; when there is none yet, split.y (written so
   * every replica starts alike); when it is unusable, y 0 locked; when etcd cannot be
   * reached, y 0 (all to x) until it answers, then the shared state.
   */
  async initial(configY: number): Promise<Initial> {
    let read: Read
    try {
      read = await this.#read()
    } catch (err) {
      const reason = `state backend etcd unreachable at start (${(err as Error).message}): all traffic to x until it answers, then the shared state`
      return { state: { y: 0, locked: false, lock_reason: null, rollout: null }, event: ['startup', { cause: 'startup', source: 'none', reason, y: 0, locked: false }] }
    }
    if (read.invalid !== null) {
      this.#revision = read.revision
      const reason = `shared state in etcd is unusable (${read.invalid}); started with y at 0, locked; any write replaces it`
      this.#logger.error({ key: this.#key, reason: read.invalid }, 'shared state unusable: started at y 0, locked')
      return {
        state: { y: 0, locked: true, lock_reason: reason, rollout: null },
        event: ['state.invalid', { cause: 'startup', reason: read.invalid, key: this.#key, revision: read.revision, y: 0, locked: true }],
      }
    }
    if (read.state !== null) {
      this.#revision = read.revision
      this.#remember(read.write)
      return { state: read.state, event: ['startup', { cause: 'startup', source: 'etcd', revision: read.revision, y: read.state.y, locked: read.state.locked }] }
    }
    const fresh: LiveState = { y: configY, locked: false, lock_reason: null, rollout: null }
    const write = randomUUID()
    const created = await this.#putIf('create state', 'Create', 0, fresh, write).catch(() => null)
    if (created?.succeeded) {
      this.#revision = Number(created.header.revision)
      this.#remember(write)
      return { state: fresh, event: ['startup', { cause: 'startup', source: 'config split.y', revision: this.#revision, y: configY, locked: false }] }
    }
    // another replica created it first (or etcd went away): take theirs
    return this.initial(configY)
  }

  /**
   * CAS on the held revision; see the file comment for etcd down and for rollbacks.
   * Resolves with the state written (a rollback retried on a newer shared state keeps
   * that state's other changes).
   */
  async save(next: LiveState, change: Change): Promise<LiveState> {
    if (this.#closed) throw new CutoverError('CUTOVER_ERR_STATE_BACKEND_DOWN', 'state backend closed: cutover is stopping; nothing changed')
    const rollback = change.type === 'rollback'
    if (this.#pending !== null && !rollback) {
      // a rollback made while etcd was away goes first, or this write would be computed on a state etcd never saw
      await this.#flushPending().catch(() => undefined)
      if (this.#pending !== null) throw this.#downError()
    }
    for (let attempt = 1; ; attempt++) {
      const write = randomUUID()
      let res: { succeeded: boolean; header: { revision: string } }
      try {
        res = await this.#putIf('write state', 'Mod', this.#revision, next, write)
      } catch (err) {
        if (rollback) {
          // safety first: y goes to 0 here now; it is written when etcd answers again
          this.#pending = next
          this.#logger.error({ reason: next.lock_reason }, 'rollback applied on this replica only: etcd unreachable; it is written as soon as etcd answers')
          return next
        }
        // no answer: the write may still have reached etcd (its answer lost, a deadline passed)
        const landed = await this.#read(true).catch(() => undefined)
        if (landed?.write === write) {
          this.#revision = landed.revision
          this.#remember(write)
          return next
        }
        if (landed === undefined) throw this.#unknownError(err)
        throw this.#downError(err)
      }
      if (res.succeeded) {
        this.#revision = Number(res.header.revision)
        this.#remember(write)
        if (rollback) this.#pending = null
        return next
      }
      // someone wrote first. A rollback does not depend on the state it replaces: made again on the fresh one, keeping its other changes.
      const fresh = await this.#read().catch(() => null)
      if (fresh?.write === write) {
        // an earlier attempt of this very write landed, its answer lost: the retry's compare failed on it
        this.#revision = fresh.revision
        this.#remember(write)
        if (rollback) this.#pending = null
        return next
      }
      if (rollback && fresh !== null && attempt < ROLLBACK_TRIES) {
        this.#revision = fresh.revision
        if (fresh.state !== null) next = rolledBack(fresh.state, next)
        continue
      }
      void this.resync()
      throw new CutoverError('CUTOVER_ERR_STATE_CONFLICT', 'another replica changed the shared state first; nothing changed here: read GET /v1/state and try again')
    }
  }

  /**
   * Watch the state key and adopt every change into the controller; read it again every
   * second and whenever etcd comes back (a watch event missed is adopted within a second).
   */
  async attach(controller: StateController): Promise<void> {
    this.#controller = controller
    this.#conn.onHealth((h) => {
      if (h.up) void this.resync()
    })
    this.#conn.onRewound(() => {
      // what etcd holds now is older than what every replica holds: written back, not adopted
      this.#restoring = 'etcd went back in time (restored from a backup, or started on an empty data dir)'
      void this.resync()
    })
    if (this.#closed) return
    this.#watch = this.#conn.keptWatch('state', (client) => client.watch().key(this.#key).watcher(), {
      put: (kv) => this.#received(kv.value, Number(kv.mod_revision)),
      delete: (kv) => this.#received(null, Number(kv.mod_revision)),
      // anything written before the watch (re)connected: read again
      connected: () => void this.resync(),
    })
    this.#scheduleResync()
    await this.resync()
  }

  /**
   * Read the key again: write a waiting rollback first; write the held state back where
   * etcd lost it (the key deleted, etcd gone back in time); then adopt anything newer
   * than what is held.
   */
  resync(quiet = false): Promise<void> {
    this.#resyncing ??= (async () => {
      try {
        if (this.#pending !== null) await this.#flushPending()
        let read = await this.#read(quiet)
        if (this.#controller !== null && (this.#restoring !== null || (read.revision === 0 && this.#revision !== 0))) {
          await this.#restore(read, this.#restoring ?? 'the state key was deleted')
          read = await this.#read()
        }
        await this.#adopt(read)
      } catch (err) {
        this.#logger.debug({ err }, 'state resync failed; tried again when etcd answers')
      } finally {
        this.#resyncing = null
      }
    })()
    return this.#resyncing
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    const w = this.#watch
    this.#watch = null
    await w?.cancel()
  }

  #scheduleResync(): void {
    if (this.#closed) return
    this.#timer = this.#clock.setTimeout(() => {
      // a safety net, not a probe: its failure does not count etcd down (the calls that need etcd do)
      void this.resync(true).finally(() => this.#scheduleResync())
    }, RESYNC_EVERY_MS)
  }

  /**
   * Write the state held here over what etcd lost (a compare-and-swap on what it holds
   * now): the key deleted, or etcd gone back in time and showing a value this replica
   * held before (a backup's). A value it never held was written since, by another
   * replica (its write-back, or a change after it): that one is adopted, never
   * overwritten. Of several replicas writing back, one writes; the others adopt it.
   */
  async #restore(read: Read, why: string): Promise<void> {
    const held = this.#controller?.current
    if (held === undefined) return
    if (read.state !== null && same(read.state, held)) {
      this.#revision = read.revision
      this.#restoring = null
      return
    }
    if (read.revision !== 0 && !(read.write && this.#held.has(read.write))) {
      this.#revision = 0
      this.#restoring = null
      this.#logger.warn({ key: this.#key, revision: read.revision }, `${why}: the shared state was written since by another replica; taken`)
      return
    }
    const write = randomUUID()
    const res = await this.#putIf('write back state', 'Mod', read.revision, held, write)
    this.#restoring = null
    if (!res.succeeded) {
      // another replica wrote first: its state is adopted next, whatever its revision
      this.#revision = 0
      return
    }
    this.#revision = Number(res.header.revision)
    this.#remember(write)
    const reason = `${why}: ${this.#id} wrote back the state it held (y ${held.y}${held.locked ? ', locked' : ''})`
    this.#logger.error({ key: this.#key, revision: this.#revision }, reason)
    this.#events.add('state.restored', { cause: 'fleet', key: this.#key, revision: this.#revision, y: held.y, locked: held.locked, reason })
  }

  /** Writes state under write's id if the key's create or mod revision is revision (etcd's compare-and-swap). */
  #putIf(what: string, target: 'Create' | 'Mod', revision: number, state: LiveState, write: string) {
    return this.#conn.call(what, (o) =>
      this.#conn.client
        .if(this.#key, target, '==', revision)
        .then(this.#conn.client.put(this.#key).value(encode(state, this.#clock.now(), this.#id, write)))
        .options(o)
        .commit(),
    )
  }

  #remember(write: string | null | undefined): void {
    if (!write) return
    this.#held.add(write)
    if (this.#held.size > HELD_WRITES_KEPT) this.#held.delete(this.#held.values().next().value as string)
  }

  #downError(err?: unknown): CutoverError {
    const why = err instanceof Error ? err.message : (this.#conn.health.reason ?? 'no answer')
    return new CutoverError('CUTOVER_ERR_STATE_BACKEND_DOWN', `state backend etcd unreachable (${why}); nothing changed; routing stays at the last known split`, { cause: err })
  }

  /** No answer to a write, nor to the read after it: whether it was written is not known here. */
  #unknownError(err: unknown): CutoverError {
    const why = err instanceof Error ? err.message : 'no answer'
    return new CutoverError(
      'CUTOVER_ERR_STATE_BACKEND_DOWN',
      `state backend etcd unreachable (${why}): no answer to the write, which may or may not have been written; if it was, every replica applies it as soon as etcd answers (read GET /v1/state then); routing stays at the last known split meanwhile`,
      { cause: err },
    )
  }

  /** `quiet`: a check whose failure does not count the backend down (a write's failure, or the periodic read's, is not news). */
  async #read(quiet = false): Promise<Read> {
    const res = await this.#conn.call('read state', (o) => this.#conn.client.get(this.#key).options(o).exec(), quiet)
    const kv = res.kvs[0]
    return kv ? decode(kv.value, Number(kv.mod_revision)) : { revision: 0, state: null, invalid: null, updatedAt: NaN }
  }

  #received(value: Buffer | null, revision: number): void {
    if (value === null) {
      // refused (an event says so), then written back: a replica starting meanwhile would start on its config's split.y
      void this.#adopt({ revision, state: null, invalid: 'the state key was deleted', updatedAt: NaN }, true).then(() => {
        this.#restoring ??= 'the state key was deleted'
        return this.resync()
      })
      return
    }
    void this.#adopt(decode(value, revision))
  }

  /** Adopt a read into the controller, in its queue, if it is newer than what is held and no rollback waits. */
  async #adopt(read: Read, deleted = false): Promise<void> {
    const controller = this.#controller
    if (controller === null) return
    await controller.adopt((current) => {
      if (this.#pending !== null) return null
      if (deleted ? this.#revision === 0 : read.revision <= this.#revision) return null
      if (read.invalid !== null || read.state === null) {
        // refused, never applied; the next write replaces it (its revision is what a write compares)
        this.#revision = deleted ? 0 : read.revision
        if (read.revision !== this.#invalidSeen) {
          this.#invalidSeen = read.revision
          const reason = read.invalid ?? 'no state'
          this.#logger.error({ key: this.#key, revision: read.revision, reason }, 'shared state refused: unusable value in etcd; keeping the current state')
          this.#events.add('state.invalid', { cause: 'fleet', key: this.#key, revision: read.revision, reason: `refused a shared state: ${reason}; kept y ${current.y}` })
        }
        return null
      }
      this.#revision = read.revision
      this.#remember(read.write)
      if (Number.isFinite(read.updatedAt)) this.#onPropagation?.(Math.max(0, this.#clock.now() - read.updatedAt))
      return same(current, read.state) ? null : read.state
    })
  }

  /** Write the rollback made while etcd was down; if the shared state is already rolled back, take it. */
  async #flushPending(): Promise<void> {
    const pending = this.#pending
    if (pending === null) return
    for (let attempt = 1; attempt <= ROLLBACK_TRIES; attempt++) {
      const read = await this.#read()
      if (read.state !== null && read.state.y === 0 && read.state.locked && read.state.rollout === null) {
        this.#pending = null
        this.#remember(read.write)
        this.#adoptAfterFlush(read.revision, read.state)
        // the fleet is told all the same: this replica sent everything to x on its own while
        // etcd was away, whoever wrote the shared rollback first
        this.#events.add('rollback.shared', {
          cause: 'fleet',
          reason: `the rollback made on ${this.#id} while etcd was unreachable (${pending.lock_reason ?? ''}) met a shared state already rolled back: ${read.state.lock_reason ?? ''}`,
        })
        this.#logger.info('rollback made while etcd was unreachable: the shared state was already rolled back')
        return
      }
      // what others changed meanwhile (a node drained, ...) stays; only the rollback's fields are this replica's
      const written = read.state !== null ? rolledBack(read.state, pending) : pending
      const write = randomUUID()
      const res = await this.#putIf('write rollback', 'Mod', read.revision, written, write)
      if (res.succeeded) {
        this.#pending = null
        this.#remember(write)
        this.#adoptAfterFlush(Number(res.header.revision), written)
        this.#events.add('rollback.shared', { cause: 'fleet', reason: `the rollback made on ${this.#id} while etcd was unreachable is now the shared state: ${pending.lock_reason ?? ''}` })
        this.#logger.info('rollback made while etcd was unreachable written to etcd')
        return
      }
    }
  }

  /** Hold the flushed revision now; the state itself through the controller's queue (not awaited: save may be running in it). */
  #adoptAfterFlush(revision: number, state: LiveState): void {
    this.#revision = Math.max(this.#revision, revision)
    void this.#controller?.adopt((current) => (same(current, state) ? null : state))
  }
}
