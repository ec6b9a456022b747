// The outcome contract's gRPC input: what counts as a failed answer, carried through the fan-out and a worker's batch.
import t from 'tap'
import { OutcomeBatcher } from '../../src/cluster/outcome-batcher.js'
import type { ToPrimary } from '../../src/cluster/messages.js'
import { replayOutcomes } from '../../src/cluster/replay.js'
import type { PoolName } from '../../src/config/types.js'
import { fanOut } from '../../src/outcome/fan-out.js'
import { isFailedAnswer, type Protocol } from '../../src/outcome/outcome-sink.js'
import type { UpstreamNode } from '../../src/upstream/node.js'

const mk = (pool: PoolName, name: string) => ({ pool, name, inflight: 0 }) as UpstreamNode
const nodes = { x: [mk('x', 'x1')], y: [mk('y', 'y1')] }

t.test('a 5xx or a failed gRPC call is an error; a 200 with a harmless grpc-status is not', async (t) => {
  t.equal(isFailedAnswer(200), false)
  t.equal(isFailedAnswer(200, false), false)
  t.equal(isFailedAnswer(200, true), true)
  t.equal(isFailedAnswer(503), true)
  t.equal(isFailedAnswer(499), false)
})

t.test('grpcFailed, protocol and grpc reach every sink through the fan-out', async (t) => {
  const calls: string[] = []
  const sink = () => ({
    answered: (n: UpstreamNode, status: number, _ms: number, failed?: boolean) => calls.push(`answered ${n.name} ${status} ${failed}`),
    finished: (pool: PoolName, status: number, _ms: number, protocol?: Protocol, grpc?: number) => calls.push(`finished ${pool} ${status} ${protocol} ${grpc}`),
  })
  const report = fanOut([sink(), sink()])
  report.answered(nodes.y[0], 200, 1, true)
  report.finished('y', 200, 1, 'h2', 14)
  t.same(calls, ['answered y1 200 true', 'answered y1 200 true', 'finished y 200 h2 14', 'finished y 200 h2 14'])
})

t.test("a worker's failed gRPC answer is replayed as failed on the primary", async (t) => {
  const sent: ToPrimary[] = []
  const batcher = new OutcomeBatcher((m) => sent.push(m))
  batcher.setNodes(1, nodes)
  batcher.answered(nodes.y[0], 200, 5, true)
  batcher.answered(nodes.x[0], 200, 6, false)
  batcher.answered(nodes.x[0], 200, 7)
  batcher.flush()
  const msg = sent[0] as Extract<ToPrimary, { t: 'outcomes' }>
  const calls: string[] = []
  replayOutcomes(msg.records, nodes, fanOut([{ answered: (n, status, ms, failed) => calls.push(`${n.name} ${status} ${ms} ${failed === true}`) }]))
  t.same(calls, ['y1 200 5 true', 'x1 200 6 false', 'x1 200 7 false'])
})
