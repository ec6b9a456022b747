/**
 * Which events go to the webhook, and the one human line (Slack `text`) each becomes.
 * Pure: an event in, a string out.
 */

import type { CutoverEvent } from '../state/events.js'

const EXACT = new Set(['rollback', 'unlock', 'split.changed', 'state.unreadable'])
const PREFIXES = ['rollout.', 'node.', 'gate.', 'config.']

/** True for the event types the webhook is told about. */
export function isNotified(type: string): boolean {
  if (EXACT.has(type)) return true
  for (const p of PREFIXES) if (type.startsWith(p)) return true
  return false
}

function str(v: unknown, fallback = '?'): string {
  if (v === undefined || v === null || v === '') return fallback
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function pct(v: unknown): string {
  return typeof v === 'number' ? `${v}%` : '?'
}

/** Rollout step indexes are 0-based in events; operators count from 1. */
function stepNo(v: unknown): string {
  return typeof v === 'number' ? String(v + 1) : '?'
}

function withReason(line: string, reason: unknown): string {
  return typeof reason === 'string' && reason ? `${line}: ${reason}` : line
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => str(x)) : []
}

/** The Slack-compatible one-line text for an event. */
export function eventText(e: CutoverEvent): string {
  const by = typeof e.cause === 'string' ? ` (${e.cause})` : ''
  switch (e.type) {
    case 'rollback':
      return `:rotating_light: cutover rolled back to x: ${str(e.reason, 'no reason given')} (y was ${pct(e.from)}; split locked${e.cause === 'gate' ? ' by the gate' : ''})`
    case 'unlock':
      return `:unlock: cutover split unlocked${by}`
    case 'split.changed':
      return `:twisted_rightwards_arrows: cutover split changed: y ${pct(e.from)} → ${pct(e.to)}${by}`
    case 'state.unreadable':
      return `:warning: cutover state file unreadable (${str(e.reason)}); started with y at 0, locked`
    case 'rollout.started':
      return `:rocket: cutover rollout started: ${Array.isArray(e.steps) ? e.steps.length : '?'} steps, y ${pct(e.from)} → ${pct(e.to)}`
    case 'rollout.step':
      return `:arrow_forward: cutover rollout step ${stepNo(e.step)}: y ${pct(e.from)} → ${pct(e.to)}`
    case 'rollout.paused':
      return withReason(`:double_vertical_bar: cutover rollout paused at step ${stepNo(e.step)} (y ${pct(e.y)})${by}`, e.reason)
    case 'rollout.resumed':
      return `:arrow_forward: cutover rollout resumed at step ${stepNo(e.step)} (y ${pct(e.y)})`
    case 'rollout.promoted':
      return `:fast_forward: cutover rollout promoted: y ${pct(e.from)} → ${pct(e.to)}`
    case 'rollout.done':
      return `:white_check_mark: cutover rollout done: y at ${pct(e.to)}`
    case 'rollout.holding':
      return withReason(`:hourglass: cutover rollout holding at step ${stepNo(e.step)} (y ${pct(e.y)})`, e.reason)
    case 'rollout.restored':
      return withReason(`:arrows_counterclockwise: cutover rollout restored at step ${stepNo(e.step)}`, e.reason)
    case 'node.healthy':
      return withReason(`:large_green_circle: cutover node ${str(e.pool)}:${str(e.node)} healthy`, e.cause)
    case 'node.unhealthy':
      return withReason(`:red_circle: cutover node ${str(e.pool)}:${str(e.node)} unhealthy`, e.cause)
    case 'node.ejected':
      return withReason(`:no_entry: cutover node ${str(e.pool)}:${str(e.node)} ejected for ${typeof e.for_ms === 'number' ? `${Math.round(e.for_ms / 1000)}s` : '?'}`, e.cause)
    case 'node.returned':
      return withReason(`:leftwards_arrow_with_hook: cutover node ${str(e.pool)}:${str(e.node)} back in rotation`, e.cause)
    case 'gate.failed':
      return withReason(`:warning: cutover gate failed (action ${str(e.action)})`, e.reason)
    case 'config.reloaded': {
      const added = list(e.added)
      const removed = list(e.removed)
      const parts = [added.length ? `added ${added.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : ''].filter(Boolean)
      return `:gear: cutover config reloaded${parts.length ? `: ${parts.join('; ')}` : ''}`
    }
    case 'config.reload_refused':
      return `:x: cutover config reload refused: ${list(e.problems).join('; ') || 'invalid config'}`
    default:
      return `cutover ${e.type}${by}`
  }
}
