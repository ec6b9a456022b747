/**
 * Validation of control API bodies and queries: pure functions that return the parsed
 * value or throw CUTOVER_ERR_BAD_REQUEST with a message that names the field.
 */

import { CutoverError } from '../errors.js'
import { isPercent } from '../config/percent.js'
import { MAX_NODE_WEIGHT, type NodeChangeRequest } from '../state/node-admin.js'
import { ADMIN_STATES, type AdminState } from '../state/types.js'

export const MAX_REASON_LENGTH = 500
export const MAX_EVENTS_LIMIT = 1000

function bad(message: string): CutoverError {
  return new CutoverError('CUTOVER_ERR_BAD_REQUEST', message)
}

/** A JSON object whose keys are all in `allowed`; no body counts as {} unless required. */
function objectBody(body: unknown, allowed: readonly string[], required: boolean): Record<string, unknown> {
  if (body === undefined || body === null) {
    if (required) throw bad('body: expected a JSON object')
    return {}
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw bad('body: expected a JSON object')
  const obj = body as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw bad(`${key}: unknown field${allowed.length ? ` (expected ${allowed.join(', ')})` : ' (expected no fields)'}`)
  }
  return obj
}

/** PUT /v1/split: {"y": 0..100 with at most two decimals}. */
export function parseSplitBody(body: unknown): number {
  const obj = objectBody(body, ['y'], true)
  if (!Object.hasOwn(obj, 'y')) throw bad('y: required')
  if (!isPercent(obj.y)) throw bad('y: expected a number from 0 to 100 with at most two decimals')
  return obj.y
}

/** POST /v1/rollback and /v1/rollout/abort: optional {"reason": 1..500 characters}. */
export function parseReasonBody(body: unknown, fallback: string): string
export function parseReasonBody(body: unknown, fallback: undefined): string | undefined
export function parseReasonBody(body: unknown, fallback: string | undefined): string | undefined {
  const obj = objectBody(body, ['reason'], false)
  if (!Object.hasOwn(obj, 'reason')) return fallback
  const reason = obj.reason
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > MAX_REASON_LENGTH) {
    throw bad(`reason: expected a string of 1 to ${MAX_REASON_LENGTH} characters`)
  }
  return reason
}

/** Endpoints that take no parameters: no body, or {}. */
export function parseEmptyBody(body: unknown): void {
  objectBody(body, [], false)
}

/** POST /v1/rollout: optional {"steps": [...]}; the rollout runner validates the steps. */
export function parseRolloutBody(body: unknown): unknown {
  const obj = objectBody(body, ['steps', 'force'], false)
  if (Object.hasOwn(obj, 'steps') && !Array.isArray(obj.steps)) throw bad('steps: expected an array')
  return obj.steps
}

/** POST /v1/rollout's `force` (issue 13): start though x and y serve different configs. */
export function parseRolloutForce(body: unknown): boolean {
  const obj = objectBody(body, ['steps', 'force'], false)
  if (Object.hasOwn(obj, 'force') && typeof obj.force !== 'boolean') throw bad('force: expected true or false')
  return obj.force === true
}

function wholeNumber(name: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback
  if (typeof v !== 'string' || !/^[0-9]{1,16}$/.test(v)) throw bad(`${name}: expected a whole number from ${min} to ${max}`)
  const n = Number(v)
  if (n < min || n > max) throw bad(`${name}: expected a whole number from ${min} to ${max}`)
  return n
}

/** GET /v1/events?since=ID&limit=N: since >= 0 (default 0), limit 1..1000 (default 1000). */
export function parseEventsQuery(query: unknown): { since: number; limit: number } {
  const obj = objectBody(query, ['since', 'limit'], false)
  return {
    since: wholeNumber('since', obj.since, 0, Number.MAX_SAFE_INTEGER, 0),
    limit: wholeNumber('limit', obj.limit, 1, MAX_EVENTS_LIMIT, MAX_EVENTS_LIMIT),
  }
}

/** PUT /v1/nodes/{pool}/{node}: {"admin": "drain" | "maint" | "ready", "weight": N | null, "force": bool}, admin or weight. */
export function parseNodeBody(body: unknown): NodeChangeRequest {
  const obj = objectBody(body, ['admin', 'weight', 'force'], true)
  if (!Object.hasOwn(obj, 'admin') && !Object.hasOwn(obj, 'weight')) throw bad('body: expected at least one of admin, weight')
  const out: NodeChangeRequest = {}
  if (Object.hasOwn(obj, 'admin')) {
    if (!(ADMIN_STATES as readonly unknown[]).includes(obj.admin)) throw bad('admin: expected one of ready, drain, maint')
    out.admin = obj.admin as AdminState
  }
  if (Object.hasOwn(obj, 'weight')) {
    const w = obj.weight
    if (w !== null && !(typeof w === 'number' && w > 0 && w <= MAX_NODE_WEIGHT)) throw bad(`weight: expected a number above 0 and at most ${MAX_NODE_WEIGHT}, or null for the config's weight`)
    out.weight = w
  }
  if (Object.hasOwn(obj, 'force')) {
    if (typeof obj.force !== 'boolean') throw bad('force: expected true or false')
    out.force = obj.force
  }
  return out
}
