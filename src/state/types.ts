/** The live, persisted state: what survives a restart (SPEC section 5). */

import type { PoolName, RolloutStepConfig } from '../config/types.js'

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

/**
 * The longest lock reason kept. An operator's reason is at most 500 characters (the API
 * refuses more); a gate's names its check and figures. A state file or an etcd value with a
 * longer one is refused, so a hostile value cannot grow every state read, event and page.
 */
export const MAX_LOCK_REASON_LENGTH = 4096

/** reason, cut to MAX_LOCK_REASON_LENGTH characters (its end replaced by '…') when longer. */
export function boundLockReason(reason: string): string {
  return reason.length <= MAX_LOCK_REASON_LENGTH ? reason : `${reason.slice(0, MAX_LOCK_REASON_LENGTH - 1)}…`
}

export interface LiveState {
  /** share of y, 0..100 with at most two decimals; x is 100 - y */
  y: number
  locked: boolean
  lock_reason: string | null
  rollout: RolloutProgress | null
  /**
   * operators' runtime changes to single nodes (issue 14), by pool and node name; a node
   * absent here is ready at its config weight. Absent: no node has one.
   */
  nodes?: NodeAdminState
}

/** ready: normal; drain: no new requests, probes go on; maint: no traffic and no probes. */
export type AdminState = 'ready' | 'drain' | 'maint'
export const ADMIN_STATES: readonly AdminState[] = ['ready', 'drain', 'maint']

/** One node's runtime change: kept until `ready` (admin) and a weight reset (weight: null). */
export interface NodeAdmin {
  admin: AdminState
  /** the runtime weight; null: the config's */
  weight: number | null
  /** ISO time of the last change */
  at: string
}

export type NodeAdminState = Partial<Record<PoolName, Record<string, NodeAdmin>>>

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
  /** written only when some node has a runtime change */
  nodes?: NodeAdminState
}
