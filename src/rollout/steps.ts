/**
 * Rollout steps from a POST /v1/rollout body, checked by the config's own rules (y 0..100
 * with at most two decimals, strictly increasing; a hold on all but the last step), so
 * the file and the API can never disagree.
 */

import { validateRolloutSteps } from '../config/rollout-steps.js'
import type { RolloutStepConfig } from '../config/types.js'
import { CutoverError } from '../errors.js'

export const MAX_STEPS = 100

/** Parse and check body steps; throws CUTOVER_ERR_BAD_REQUEST naming the field. */
export function parseSteps(raw: unknown): RolloutStepConfig[] {
  if (Array.isArray(raw) && raw.length > MAX_STEPS) throw new CutoverError('CUTOVER_ERR_BAD_REQUEST', `steps: at most ${MAX_STEPS} steps`)
  const { steps, problems } = validateRolloutSteps(raw, 'steps')
  if (steps === undefined) throw new CutoverError('CUTOVER_ERR_BAD_REQUEST', problems.join('; '))
  return steps
}
