/**
 * The state file (SPEC section 5): read once at start, written atomically on every change
 * (temp file in the same directory, fsync, rename over the target, fsync the directory),
 * so a crash leaves the old or the new file, never a torn one.
 */

import type { Clock } from '../clock.js'
import { CutoverError } from '../errors.js'
import type { StateStore } from './controller.js'
import { isPercent } from '../config/percent.js'
import { parseNodeAdminState } from './node-admin.js'
import { MAX_LOCK_REASON_LENGTH, STATE_FORMAT_VERSION, type LiveState, type RolloutProgress, type StateFile } from './types.js'

const { existsSync, readFileSync, renameSync } = process.getBuiltinModule('node:fs')
const { mkdir, open, rename, rm } = process.getBuiltinModule('node:fs/promises')
const { basename, dirname, join } = process.getBuiltinModule('node:path')

export type StateLoadResult =
  | { kind: 'missing' }
  | { kind: 'ok'; state: LiveState }
  /** the file was unusable and has been renamed to movedTo */
  | { kind: 'corrupt'; reason: string; movedTo: string }

/** Directory fsync is not supported everywhere; these codes mean "not supported", not "failed". */
const DIR_SYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF'])

export class FileStateStore implements StateStore {
  readonly path: string
  readonly #clock: Clock
  #tmpSeq = 0

  constructor(path: string, options: { clock: Clock }) {
    this.path = path
    this.#clock = options.clock
  }

  /** Read the state file; an unusable one is moved aside (throws only when it cannot be). */
  load(): StateLoadResult {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return { kind: 'missing' }
      return this.#moveAside(`cannot read: ${code ?? (err as Error).message}`)
    }
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch (err) {
      return this.#moveAside(`not JSON: ${(err as Error).message}`)
    }
    const parsed = parseStateFile(data)
    if (typeof parsed === 'string') return this.#moveAside(parsed)
    return { kind: 'ok', state: parsed }
  }

  /** Write the state atomically; rejects with CUTOVER_ERR_STATE_WRITE naming the path and cause. */
  async save(state: LiveState): Promise<void> {
    const dir = dirname(this.path)
    const tmp = join(dir, `.${basename(this.path)}.tmp-${process.pid}-${++this.#tmpSeq}`)
    const file: StateFile = {
      version: STATE_FORMAT_VERSION,
      updated_at: new Date(this.#clock.now()).toISOString(),
      split: { y: state.y },
      locked: state.locked,
      lock_reason: state.lock_reason,
      rollout: state.rollout,
      ...(state.nodes ? { nodes: state.nodes } : {}),
    }
    const text = JSON.stringify(file, null, 2) + '\n'
    let created = false
    try {
      await mkdir(dir, { recursive: true })
      const fh = await open(tmp, 'wx', 0o644)
      created = true
      try {
        await fh.writeFile(text, 'utf8')
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.path)
      created = false
    } catch (err) {
      if (created) await rm(tmp, { force: true }).catch(() => undefined)
      throw writeError(this.path, err)
    }
    await syncDir(dir).catch((err) => {
      // the new file is in place; only a real I/O error makes its durability doubtful
      if (!DIR_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw writeError(this.path, err)
    })
  }

  #moveAside(reason: string): StateLoadResult {
    const stamp = new Date(this.#clock.now()).toISOString().replace(/:/g, '-')
    let movedTo = `${this.path}.corrupt-${stamp}`
    for (let n = 1; existsSync(movedTo); n++) movedTo = `${this.path}.corrupt-${stamp}-${n}`
    try {
      renameSync(this.path, movedTo)
    } catch (err) {
      // starting anyway would overwrite the evidence on the first save
      throw new CutoverError('CUTOVER_ERR_STATE_WRITE', `state file ${this.path} is unusable (${reason}) and cannot be moved aside: ${errText(err)}`, { cause: err })
    }
    return { kind: 'corrupt', reason, movedTo }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e.code ? `${e.code}: ${e.message}` : String(e?.message ?? err)
}

function writeError(path: string, err: unknown): CutoverError {
  return new CutoverError('CUTOVER_ERR_STATE_WRITE', `cannot write state file ${path}: ${errText(err)}`, { cause: err })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isIsoTime(v: unknown): v is string {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v))
}

/** Validate a parsed state file: the live state, or a string saying which field is wrong. */
export function parseStateFile(data: unknown): LiveState | string {
  if (!isObject(data)) return 'not a JSON object'
  if (data.version !== STATE_FORMAT_VERSION) return `version: expected ${STATE_FORMAT_VERSION}, got ${JSON.stringify(data.version)}`
  if (typeof data.updated_at !== 'string') return 'updated_at: not a string'
  if (!isObject(data.split)) return 'split: not an object'
  const y = data.split.y
  if (!isPercent(y)) return `split.y: not a number from 0 to 100 with at most two decimals: ${JSON.stringify(y)}`
  if (typeof data.locked !== 'boolean') return 'locked: not a boolean'
  const lockReason = data.lock_reason
  if (lockReason !== null && typeof lockReason !== 'string') return 'lock_reason: not a string or null'
  if (lockReason !== null && lockReason.length > MAX_LOCK_REASON_LENGTH) return `lock_reason: ${lockReason.length} characters, more than ${MAX_LOCK_REASON_LENGTH}`
  const rollout = data.rollout === null ? null : parseRollout(data.rollout)
  if (typeof rollout === 'string') return rollout
  const state: LiveState = { y, locked: data.locked, lock_reason: lockReason, rollout }
  if (data.nodes !== undefined) {
    const nodes = parseNodeAdminState(data.nodes)
    if (typeof nodes === 'string') return nodes
    if (Object.keys(nodes).length > 0) state.nodes = nodes
  }
  return state
}

function parseRollout(r: unknown): RolloutProgress | string {
  if (!isObject(r)) return 'rollout: not an object or null'
  if (!Array.isArray(r.steps) || r.steps.length === 0) return 'rollout.steps: not a non-empty array'
  const steps: RolloutProgress['steps'] = []
  for (let i = 0; i < r.steps.length; i++) {
    const s: unknown = r.steps[i]
    if (!isObject(s)) return `rollout.steps[${i}]: not an object`
    if (!isPercent(s.y)) return `rollout.steps[${i}].y: not a number from 0 to 100 with at most two decimals`
    if (typeof s.hold !== 'number' || !Number.isInteger(s.hold) || s.hold < 0) return `rollout.steps[${i}].hold: not a whole number of ms >= 0`
    steps.push({ y: s.y, hold: s.hold })
  }
  if (typeof r.step !== 'number' || !Number.isInteger(r.step) || r.step < 0 || r.step >= steps.length) return 'rollout.step: not an index into steps'
  if (r.status !== 'running' && r.status !== 'paused') return 'rollout.status: not running or paused'
  if (!isIsoTime(r.started_at)) return 'rollout.started_at: not an ISO time'
  return { steps, step: r.step, status: r.status, started_at: r.started_at }
}
