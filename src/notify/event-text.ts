/**
 * Events as sentences: the one place an audit event becomes words, for `ctl events`, the
 * console (the API's `text` field), the demo's terminal and the webhook (Slack `text`,
 * with an emoji in front). Pure: an event in, a string out. Steps are counted from 1 and
 * figures read as src/control/figures.ts writes them, as everywhere else.
 */

import { duration, share, stepOf } from '../control/figures.js'
import type { CutoverEvent } from '../state/events.js'

const EXACT = new Set(['rollback', 'unlock', 'split.changed', 'state.unreadable'])
const PREFIXES = ['rollout.', 'node.', 'gate.', 'config.']

/** True for the event types the webhook is told about. */
export function isNotified(type: string): boolean {
  if (EXACT.has(type)) return true
  for (const p of PREFIXES) if (type.startsWith(p)) return true
  return false
}

const BY: Record<string, string> = {
  api: 'by the API',
  gate: 'by the gate',
  rollout: 'by the rollout',
  startup: 'at start-up',
  reload: 'by a config reload',
  worker: 'by a worker',
  fleet: 'by the fleet',
}

function str(v: unknown, fallback = '?'): string {
  if (v === undefined || v === null || v === '') return fallback
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function pct(v: unknown): string {
  return typeof v === 'number' ? share(v) : '?'
}

function by(e: CutoverEvent): string {
  const cause = typeof e.cause === 'string' ? ` ${BY[e.cause] ?? `(${e.cause})`}` : ''
  // issue 14: who acted through the API, and from where
  return typeof e.role === 'string' ? `${cause} (${e.role}${typeof e.remote === 'string' ? ` from ${e.remote}` : ''})` : cause
}

function step(e: CutoverEvent): string {
  return typeof e.step === 'number' ? stepOf(e.step, typeof e.of === 'number' ? e.of : undefined) : 'step ?'
}

function withReason(line: string, reason: unknown): string {
  return typeof reason === 'string' && reason ? `${line}: ${reason}` : line
}

/** The reason without a prefix the sentence already says. */
function without(reason: unknown, prefix: string): unknown {
  return typeof reason === 'string' && reason.startsWith(prefix) ? reason.slice(prefix.length) : reason
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => str(x)) : []
}

function node(e: CutoverEvent): string {
  return `${str(e.pool)} node ${str(e.node)}`
}

/** ` h2 listener` for an event about a node's h2 listener alone (issue 12); '' for the whole node. */
function listener(e: CutoverEvent): string {
  return e.listener === 'h2' ? ' h2 listener' : ''
}

function planText(steps: unknown): string {
  if (!Array.isArray(steps)) return '?'
  return steps.map((s: { y?: unknown; hold?: unknown }) => `${pct(s?.y)}${typeof s?.hold === 'number' && s.hold > 0 ? ` (hold ${duration(s.hold)})` : ''}`).join(' → ')
}

/** One sentence for an event, without its time; no line breaks. */
export function eventSentence(e: CutoverEvent): string {
  return sentence(e).replace(/\s*\n\s*/g, ' ')
}

function sentence(e: CutoverEvent): string {
  switch (e.type) {
    case 'startup':
      return `cutover started with y at ${pct(e.y)} (${e.source === 'state file' ? 'from the state file' : "from the config's split.y"})${e.locked ? ', split locked' : ''}`
    case 'state.unreadable':
      return `The state file could not be read (${str(e.reason)}); it was moved aside${typeof e.moved_to === 'string' ? ` to ${e.moved_to}` : ''} and cutover started with y at 0%, split locked`
    case 'split.changed':
      return `Split set${by(e)}: y ${pct(e.from)} → ${pct(e.to)}`
    case 'rollback': {
      const who = e.cause === 'gate' ? 'The gate rolled y back to x' : `Rolled back to x${by(e)}`
      const stopped = e.rollout_stopped === true ? ', the rollout stopped' : ''
      return `${withReason(who, str(e.reason, 'no reason given'))}. y was at ${pct(e.from)}${stopped}; the split stays locked until unlocked`
    }
    case 'unlock':
      return `Split unlocked${by(e)}`
    case 'rollout.started': {
      const from = typeof e.step === 'number' && e.step > 0 ? `, starting at ${step(e)} because y was already at ${pct(e.from)}` : ''
      const move = e.from === e.to ? `y stays at ${pct(e.to)}` : `y ${pct(e.from)} → ${pct(e.to)}`
      return `Rollout started${by(e)}: ${planText(e.steps)}${from}; ${move}`
    }
    case 'rollout.step':
      return `Rollout ${step(e)}: y ${pct(e.from)} → ${pct(e.to)}`
    case 'rollout.paused':
      return withReason(`Rollout paused at ${step(e)} (y ${pct(e.y)})${by(e)}`, e.reason)
    case 'rollout.resumed':
      return `Rollout resumed at ${step(e)} (y ${pct(e.y)})${by(e)}`
    case 'rollout.promoted':
      return `Rollout promoted${by(e)}: y ${pct(e.from)} → ${pct(e.to)}, the plan is finished`
    case 'rollout.done':
      return `Rollout done: y at ${pct(e.to)}`
    case 'rollout.holding':
      return withReason(`Rollout holding at ${step(e)} (y ${pct(e.y)})`, e.holding ?? e.reason)
    case 'rollout.restored':
      return withReason(`Rollout restored after a restart at ${step(e)}`, e.reason)
    case 'node.healthy':
      return withReason(`${node(e)} is healthy`, e.cause)
    case 'node.unhealthy':
      return withReason(`${node(e)} is unhealthy`, e.cause)
    case 'node.ejected': {
      const line = withReason(`${node(e)}${listener(e)} ejected for ${typeof e.for_ms === 'number' ? duration(e.for_ms) : '?'}`, e.cause)
      return typeof e.why === 'string' && e.why ? `${line} (${e.why})` : line
    }
    case 'node.returned':
      return withReason(`${node(e)}${listener(e)} is back in rotation`, e.cause)
    case 'node.admin': {
      const parts: string[] = []
      if (e.from !== e.to) parts.push(`${str(e.to)} (was ${str(e.from)})`)
      if (e.weight_from !== e.weight_to) parts.push(`weight ${str(e.weight_to)}${e.weight_source === 'config' ? " (the config's)" : ''} (was ${str(e.weight_from)})`)
      return `${node(e)}: ${parts.join(', ') || 'unchanged'}${e.force ? ', forced' : ''}${by(e)}`
    }
    case 'gate.failed':
      return withReason(`Gate failed, action ${str(e.action)}`, e.reason)
    case 'config.reloaded': {
      const added = list(e.added)
      const removed = list(e.removed)
      const restart = list(e.needs_restart)
      const parts = [added.length ? `added ${added.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : '', restart.length ? `${restart.join(', ')} need a restart` : ''].filter(
        Boolean,
      )
      return `Config reloaded${parts.length ? `: ${parts.join('; ')}` : ''}`
    }
    case 'config.drift':
      return withReason(`Config drift, action ${str(e.action)}`, without(e.reason, 'config drift: '))
    case 'config.reload_refused':
      return `Config reload refused, the running config stays: ${list(e.problems).join('; ') || 'invalid config'}`
    case 'state.invalid':
      return withReason(`The shared state in etcd${typeof e.key === 'string' ? ` (${e.key})` : ''} was refused`, without(e.reason, 'refused a shared state: '))
    case 'state.restored':
      return typeof e.reason === 'string' && e.reason ? capitalised(e.reason) : 'The shared state in etcd was written back'
    case 'rollback.shared':
      return typeof e.reason === 'string' && e.reason ? capitalised(e.reason) : 'A rollback made while etcd was unreachable is now the shared state'
    case 'fleet.leader':
      // the reason starts with the replica's id, which keeps its case
      return typeof e.reason === 'string' && e.reason ? e.reason : e.leading ? 'This replica leads the fleet' : 'This replica no longer leads the fleet'
    case 'fleet.invalid':
      return withReason('A replica record in etcd was refused', without(e.reason, 'refused a replica record: '))
    case 'worker.exited':
      return `Worker ${str(e.pid)} exited (${e.signal ? `signal ${str(e.signal)}` : `code ${str(e.code)}`})`
    default:
      return `${e.type}${by(e)}`
  }
}

const EMOJI: Record<string, string> = {
  rollback: ':rotating_light:',
  unlock: ':unlock:',
  'split.changed': ':twisted_rightwards_arrows:',
  'state.unreadable': ':warning:',
  'rollout.started': ':rocket:',
  'rollout.step': ':arrow_forward:',
  'rollout.paused': ':double_vertical_bar:',
  'rollout.resumed': ':arrow_forward:',
  'rollout.promoted': ':fast_forward:',
  'rollout.done': ':white_check_mark:',
  'rollout.holding': ':hourglass:',
  'rollout.restored': ':arrows_counterclockwise:',
  'node.healthy': ':large_green_circle:',
  'node.unhealthy': ':red_circle:',
  'node.ejected': ':no_entry:',
  'node.returned': ':leftwards_arrow_with_hook:',
  'node.admin': ':construction:',
  'gate.failed': ':warning:',
  'config.drift': ':warning:',
  'config.reloaded': ':gear:',
  'config.reload_refused': ':x:',
}

/** The Slack-compatible one-line text for an event: `:rotating_light: cutover: The gate rolled y back ...`. */
export function eventText(e: CutoverEvent): string {
  const emoji = EMOJI[e.type]
  return `${emoji ? `${emoji} ` : ''}cutover: ${eventSentence(e)}`
}
