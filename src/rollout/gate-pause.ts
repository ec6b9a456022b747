/**
 * The gate's pause (gates.action pause): hold a running rollout at its step and split, as
 * one persisted write; nothing when no rollout runs. A state transition, so the gatekeeper
 * needs neither the rollout runner nor the order they are built in.
 */

import type { RolloutPauser } from '../gates/gatekeeper.js'
import type { StateController } from '../state/controller.js'

/** What the gatekeeper calls to pause a rollout when a gate fails. */
export function gatePause(state: StateController): RolloutPauser {
  return {
    async pauseForGate(reason: string): Promise<void> {
      await state.update(
        (s) => (s.rollout?.status === 'running' ? { ...s, rollout: { ...s.rollout, status: 'paused' } } : null),
        (next) => ({ type: 'rollout.paused', cause: 'gate', details: { step: next.rollout?.step, of: next.rollout?.steps.length, y: next.y, reason } }),
      )
    },
  }
}
