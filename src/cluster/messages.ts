/**
 * What the primary (control plane) and the workers (data plane) say to each other over
 * node:cluster's IPC channel. Nodes are named by pool and index in the config's node list;
 * `gen` is the config generation both sides agree on, so a batch about an old node list
 * is dropped rather than credited to the wrong node.
 */

import type { Config, PoolName } from '../config/types.js'
import type { ShadowBatch } from '../shadow/results.js'

export type Usable = Record<PoolName, boolean[]>
/** each node's weight for routing: an operator's runtime weight, else the config's (issue 14) */
export type Weights = Record<PoolName, number[]>
/** issue 12: each node's h2 listener ejected until (ms epoch; 0 not ejected), by pool and index */
export type H2Until = Record<PoolName, number[]>

export type ToWorker =
  | { t: 'init'; gen: number; config: Config; y: number; usable: Usable; weights: Weights; h2Until?: H2Until; maint?: Usable }
  | { t: 'config'; gen: number; config: Config; y: number; usable: Usable; weights: Weights; h2Until?: H2Until; maint?: Usable }
  | { t: 'route'; gen: number; y: number; usable: Usable; weights: Weights; h2Until?: H2Until; maint?: Usable }
  | { t: 'metrics'; id: number }
  | { t: 'drain' }

/** why an attempt failed (failureExplained): [pool index, node index, failure kind index, the words] */
export type Why = [number, number, number, string]

export type ToPrimary =
  /** the worker listens for messages now (anything sent before is lost) */
  | { t: 'ready' }
  | { t: 'listening'; port: number; host: string }
  | { t: 'outcomes'; gen: number; records: number[]; inflight: Record<PoolName, number[]>; whys?: Why[] }
  | { t: 'metrics'; id: number; json: unknown[] }
  /** what the worker's shadow copies found since its last batch (issue 13), bounded in src/shadow/batcher.ts */
  | { t: 'shadow'; batch: ShadowBatch }
  | { t: 'error'; message: string }

/** Record types in an outcome batch; each record is five numbers. */
export const REC_ANSWERED = 0
export const REC_FAILED = 1
export const REC_FINISHED = 2
/** an answer whose gRPC call failed by its grpc-status (answered with grpcFailed) */
export const REC_ANSWERED_GRPC_FAILED = 3
/** added to an answered or failed record's type: the attempt went to the node's h2 listener */
export const REC_VIA_H2 = 8
export const RECORD_SIZE = 5
