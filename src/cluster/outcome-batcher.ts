/**
 * The worker's side of the outcome sink: records each outcome as five numbers in a growing
 * array and ships the batch to the primary every flush interval, where it is replayed into
 * the one health monitor and the one gatekeeper. So the gates judge the traffic of all
 * workers together, at the cost of at most one interval of delay.
 */

import { POOL_INDEX, POOLS, type PoolName } from '../config/types.js'
import { FAILURE_KINDS, type FailureKind, type Listener, NO_GRPC, type OutcomeSink, type Protocol } from '../outcome/outcome-sink.js'
import type { UpstreamNode } from '../upstream/node.js'
import { REC_ANSWERED, REC_ANSWERED_GRPC_FAILED, REC_FAILED, REC_FINISHED, REC_VIA_H2, type ToPrimary, type Why } from './messages.js'

/** a failure kind's number in a record: its index in FAILURE_KINDS (replay.ts reads it back) */
const KIND_INDEX = Object.fromEntries(FAILURE_KINDS.map((kind, i) => [kind, i])) as Record<FailureKind, number>

export class OutcomeBatcher implements OutcomeSink {
  #records: number[] = []
  #whys: Why[] = []
  #index = new Map<UpstreamNode, number>()
  #nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>> = { x: [], y: [] }
  #gen = 0
  #reportedInflight = false
  readonly #send: (message: ToPrimary) => void

  constructor(send: (message: ToPrimary) => void) {
    this.#send = send
  }

  /** A new node list (start or reload) with its generation; flushes what was recorded before. */
  setNodes(gen: number, nodes: Readonly<Record<PoolName, readonly UpstreamNode[]>>): void {
    this.flush()
    this.#gen = gen
    this.#nodes = nodes
    this.#index = new Map()
    for (const pool of POOLS) for (const [i, node] of nodes[pool].entries()) this.#index.set(node, i)
  }

  attemptFailed(node: UpstreamNode, kind: FailureKind, listener?: Listener): void {
    const i = this.#index.get(node)
    if (i !== undefined) this.#records.push(REC_FAILED + (listener === 'h2' ? REC_VIA_H2 : 0), POOL_INDEX[node.pool], i, KIND_INDEX[kind], 0)
  }

  answered(node: UpstreamNode, status: number, ms: number, grpcFailed?: boolean, listener?: Listener): void {
    const i = this.#index.get(node)
    const type = (grpcFailed === true ? REC_ANSWERED_GRPC_FAILED : REC_ANSWERED) + (listener === 'h2' ? REC_VIA_H2 : 0)
    if (i !== undefined) this.#records.push(type, POOL_INDEX[node.pool], i, status, ms)
  }

  finished(pool: PoolName, status: number, ms: number, _protocol?: Protocol, grpc: number = NO_GRPC): void {
    // a finished record names no node: its third number is the call's grpc-status (NO_GRPC: none)
    this.#records.push(REC_FINISHED, POOL_INDEX[pool], grpc, status, ms)
  }

  failureExplained(node: UpstreamNode, kind: FailureKind, why: string): void {
    const i = this.#index.get(node)
    if (i !== undefined) this.#whys.push([POOL_INDEX[node.pool], i, KIND_INDEX[kind], why])
  }

  /** Send what was recorded, with the nodes' in-flight counts; nothing when idle. */
  flush(): void {
    const inflight = { x: this.#nodes.x.map((n) => n.inflight), y: this.#nodes.y.map((n) => n.inflight) }
    const busy = inflight.x.some((n) => n > 0) || inflight.y.some((n) => n > 0)
    // one message with zeros after a busy one, so the primary's in-flight figures go back to 0
    if (this.#records.length === 0 && this.#whys.length === 0 && !busy && !this.#reportedInflight) return
    this.#reportedInflight = busy
    const records = this.#records
    this.#records = []
    const whys = this.#whys
    if (whys.length > 0) this.#whys = []
    this.#send({ t: 'outcomes', gen: this.#gen, records, inflight, ...(whys.length > 0 && { whys }) })
  }
}
