/**
 * What a drift or a PromQL gate does when it trips: pause a running rollout, or roll back,
 * each one persisted write through the StateController (as the gatekeeper's own fail).
 */

import type { StateController } from '../state/controller.js'

export type TripAction = 'pause' | 'rollback' | 'none'

/** Pause a running rollout (nothing when none runs); resolves true when it paused one. */
export async function pauseRollout(state: StateController, reason: string, details: Record<string, unknown>): Promise<boolean> {
  let paused = false
  await state.update(
    (cur) => {
      if (cur.rollout?.status !== 'running') return null
      paused = true
      return { ...cur, rollout: { ...cur.rollout, status: 'paused' } }
    },
    (next) => ({ type: 'rollout.paused', cause: 'gate', details: { step: next.rollout?.step, of: next.rollout?.steps.length, y: next.y, reason, ...details } }),
  )
  return paused
}

/** Act on a trip: pause, roll back (y 0, locked; only while y has a share), or nothing. */
export async function trip(state: StateController, action: TripAction, reason: string, details: Record<string, unknown>): Promise<void> {
  if (action === 'pause') await pauseRollout(state, reason, details)
  else if (action === 'rollback' && state.current.y > 0 && !state.current.locked) await state.rollback(reason, 'gate', details)
}
