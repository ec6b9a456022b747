/** The primary's side of the outcome batches: replay each record into the control plane's sink. */

import { POOLS, type PoolName } from '../config/types.js'
import { FAILURE_KINDS, type OutcomeReport } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'
import { RECORD_SIZE, REC_ANSWERED, REC_ANSWERED_GRPC_FAILED, REC_FAILED, REC_FINISHED, REC_VIA_H2, type Why } from './messages.js'

/** Feed a worker's batch to sink, naming nodes by pool and index; malformed records are skipped. */
export function replayOutcomes(records: readonly number[], nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>, sink: OutcomeReport): void {
  for (let i = 0; i + RECORD_SIZE <= records.length; i += RECORD_SIZE) {
    let type = records[i]
    const pool = POOLS[records[i + 1]]
    if (pool === undefined) continue
    if (type === REC_FINISHED) {
      sink.finished(pool, records[i + 3], records[i + 4], undefined, records[i + 2])
      continue
    }
    const node = nodes[pool][records[i + 2]]
    if (!node) continue
    const listener = type >= REC_VIA_H2 ? 'h2' : undefined
    if (listener !== undefined) type -= REC_VIA_H2
    if (type === REC_ANSWERED) sink.answered(node, records[i + 3], records[i + 4], false, listener)
    else if (type === REC_ANSWERED_GRPC_FAILED) sink.answered(node, records[i + 3], records[i + 4], true, listener)
    else if (type === REC_FAILED) {
      const kind = FAILURE_KINDS[records[i + 3]]
      if (kind) sink.attemptFailed(node, kind, listener)
    }
  }
}

/** Feed a worker's failure explanations to sink; malformed ones are skipped. */
export function replayWhys(whys: readonly Why[] | undefined, nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>, sink: Pick<OutcomeReport, 'failureExplained'>): void {
  if (!Array.isArray(whys)) return
  for (const w of whys) {
    if (!Array.isArray(w) || typeof w[3] !== 'string') continue
    const pool = POOLS[w[0]]
    const node = pool === undefined ? undefined : nodes[pool][w[1]]
    const kind = FAILURE_KINDS[w[2]]
    if (node && kind) sink.failureExplained(node, kind, w[3])
  }
}
