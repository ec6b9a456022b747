/**
 * What else a rollout answers to besides the gates' windows (issue 13, src/analysis/):
 * a start refused while x and y serve different configs, a step held by a check outside
 * the windows (PromQL gates, shadow agreement), and step hooks called before a move.
 */

import type { RolloutProgress } from '../state/types.js'

export interface RolloutGuard {
  /** Why a rollout may not start now, or null; `force` overrides what may be overridden. */
  startRefusal(force: boolean): string | null
  /** Why the running step must hold though its own hold is over, or null. */
  holding(r: Readonly<RolloutProgress>): string | null
  /**
   * Called before the rollout moves: from step `r.step` (null at the start) to step `to`
   * (null: the plan is done). Resolves with a reason to hold, or null to go on.
   */
  beforeMove(r: Readonly<RolloutProgress>, from: number | null, to: number | null): Promise<string | null>
}
