/**
 * Rollout steps, shared by the config file and the POST /v1/rollout body so both obey
 * the same rules: y strictly increasing, a hold on every step but the last.
 */

import type { RolloutStepConfig } from './types.js'
import { duration, field, isPlainObject, object, percent, type Ctx, type Rule } from './rules.js'
import { itemPath, keyPath, Problems } from './problems.js'

const step = object({
  y: field(percent(), { required: true }),
  hold: field(duration()),
})

/** A non-empty list of { y, hold } steps. */
export const rolloutSteps: Rule<RolloutStepConfig[]> = (value, path, ctx: Ctx) => {
  if (!Array.isArray(value)) {
    ctx.problems.add(path, 'expected a list of steps such as { y: 10, hold: 5m }')
    return undefined
  }
  if (value.length === 0) {
    ctx.problems.add(path, 'needs at least one step')
    return undefined
  }
  const before = ctx.problems.size
  const steps: RolloutStepConfig[] = []
  let previous: number | undefined
  value.forEach((raw, index) => {
    const path_ = itemPath(path, index)
    const out = step(raw, path_, ctx)
    if (out === undefined) return
    const last = index === value.length - 1
    if (out.hold === undefined && !last && isPlainObject(raw) && raw.hold == null) {
      ctx.problems.add(keyPath(path_, 'hold'), 'required on every step but the last')
    }
    const y = out.y as number | undefined
    if (y !== undefined && previous !== undefined && y <= previous) {
      ctx.problems.add(keyPath(path_, 'y'), `must be above the previous step's ${previous}`)
    }
    if (y !== undefined) previous = y
    if (y !== undefined) steps.push({ y, hold: (out.hold as number | undefined) ?? 0 })
  })
  return ctx.problems.size === before ? steps : undefined
}

/** Check a request body's steps with the config's rules; problems are `path: message` lines. */
export function validateRolloutSteps(value: unknown, path: string): { steps?: RolloutStepConfig[]; problems: string[] } {
  const problems = new Problems()
  const steps = rolloutSteps(value, path, { problems, fromEnv: new Set() })
  return problems.size === 0 && steps !== undefined ? { steps, problems: [] } : { problems: problems.format() }
}

/** The `rollout` section: { steps }. */
export const rollout = object({ steps: field(rolloutSteps, { required: true }) })
