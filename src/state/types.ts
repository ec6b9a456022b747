/** The live, persisted state: what survives a restart (SPEC section 5). */

import type { RolloutStepConfig } from '../config/types.js'

export const STATE_FORMAT_VERSION = 1

export type RolloutStatus = 'running' | 'paused'

/** A rollout in progress. Finished or aborted rollouts are not kept here (null). */
export interface RolloutProgress {
  steps: RolloutStepConfig[]
  /** index into steps of the step being applied or held */
  step: number
  status: RolloutStatus
  /** ISO time the rollout was started */
  started_at: string
}

export interface LiveState {
  /** share of y, 0..100 with at most two decimals; x is 100 - y */
  y: number
  locked: boolean
  lock_reason: string | null
  rollout: RolloutProgress | null
}

/** Who caused a change: every split or lock change is an event naming it. */
export type Cause = 'api' | 'gate' | 'rollout' | 'startup' | 'reload'

/** The file on disk. */
export interface StateFile {
  version: typeof STATE_FORMAT_VERSION
  updated_at: string
  split: { y: number }
  locked: boolean
  lock_reason: string | null
  rollout: RolloutProgress | null
}
