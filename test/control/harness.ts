/** Shared set-up for the control API tests: a controller over a real or stub store, a log capture. */

import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { FakeClock } from '../../src/clock.js'
import { CutoverError } from '../../src/errors.js'
import { buildControlServer } from '../../src/control/server.js'
import type { StateView } from '../../src/control/api-types.js'
import type { ControlDeps, RolloutControl } from '../../src/control/deps.js'
import { StateController, type StateStore } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'
import { FileStateStore } from '../../src/state/store.js'
import type { LiveState } from '../../src/state/types.js'
import type { TlsFiles } from '../../src/tls-files.js'

export const TOKEN = 's3cret-token-value'
export const AUTH = { authorization: `Bearer ${TOKEN}` }
export const JSON_HEADERS = { ...AUTH, 'content-type': 'application/json' }

export const initialState: LiveState = { y: 10, locked: false, lock_reason: null, rollout: null }

/** A rollout runner stub that records calls and drives the controller like the real one. */
export class FakeRollout implements RolloutControl {
  calls: Array<[string, unknown]> = []
  constructor(private readonly state: StateController) {}
  async start(steps?: unknown): Promise<unknown> {
    this.calls.push(['start', steps])
    if (steps !== undefined && (!Array.isArray(steps) || steps.length === 0)) throw new CutoverError('CUTOVER_ERR_BAD_REQUEST', 'steps: expected a non-empty array')
    const s = this.state.current
    if (s.locked) throw new CutoverError('CUTOVER_ERR_LOCKED', 'locked')
    if (s.rollout) throw new CutoverError('CUTOVER_ERR_ROLLOUT_RUNNING', 'running')
    return this.state.update(
      (cur) => ({
        ...cur,
        rollout: {
          steps: [
            { y: 50, hold: 1000 },
            { y: 100, hold: 0 },
          ],
          step: 0,
          status: 'running',
          started_at: '2026-01-01T00:00:00.000Z',
        },
      }),
      { type: 'rollout.started', cause: 'api' },
    )
  }
  async pause(): Promise<unknown> {
    this.calls.push(['pause', undefined])
    return null
  }
  async resume(): Promise<unknown> {
    this.calls.push(['resume', undefined])
    return null
  }
  async promote(): Promise<unknown> {
    this.calls.push(['promote', undefined])
    return null
  }
  async abort(reason?: string): Promise<unknown> {
    this.calls.push(['abort', reason])
    return null
  }
}

export interface Harness {
  app: FastifyInstance
  state: StateController
  events: EventLog
  store: StateStore
  rollout: FakeRollout
  logs: Array<Record<string, unknown>>
  authFailures: number
  clock: FakeClock
  /** the state file's content, when the store is a FileStateStore */
  disk(): string
  ready: { ready: boolean; reason?: string }
}

/** Build a control app; `dir` gives a real FileStateStore in that directory, `store` a stub. */
export function harness(opts: { dir?: string; store?: StateStore; initial?: LiveState; withRollout?: boolean; token?: () => string; tls?: TlsFiles; handshakeTimeoutMs?: number } = {}): Harness {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const path = opts.dir ? join(opts.dir, 'state.json') : ''
  const store = opts.store ?? (opts.dir ? new FileStateStore(path, { clock }) : { save: async () => undefined })
  const state = new StateController(opts.initial ?? initialState, store, events)
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) })
  const h: Harness = {
    app: undefined as unknown as FastifyInstance,
    state,
    events,
    store,
    rollout: new FakeRollout(state),
    logs,
    authFailures: 0,
    clock,
    disk: () => (path ? readFileSync(path, 'utf8') : ''),
    ready: { ready: true },
  }
  const deps: ControlDeps = {
    token: opts.token ?? (() => TOKEN),
    state,
    events,
    // the parts of /v1/state these tests read; the full contract is control/api-types.ts
    describe: () =>
      ({ split: { x: 100 - state.current.y, y: state.current.y }, locked: state.current.locked, lock_reason: state.current.lock_reason, rollout: state.current.rollout }) as unknown as StateView,
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'cutover_split_percent{pool="y"} 10\n' }),
    readiness: () => h.ready,
    rollout: opts.withRollout === false ? undefined : h.rollout,
    logger,
    onAuthFailure: () => void h.authFailures++,
    clock,
    tls: opts.tls === undefined ? undefined : () => opts.tls,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
  }
  h.app = buildControlServer(deps)
  return h
}
