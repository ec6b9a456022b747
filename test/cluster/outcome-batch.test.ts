// The outcome batch format, both ends: what a worker's batcher records, the primary's replay reads back.
import t from 'tap'
import type { PoolName } from '../../src/config/types.js'
import { OutcomeBatcher } from '../../src/cluster/outcome-batcher.js'
import type { ToPrimary } from '../../src/cluster/messages.js'
import { replayOutcomes, replayWhys } from '../../src/cluster/replay.js'
import { fanOut } from '../../src/outcome/fan-out.js'
import { FAILURE_KINDS, type FailureKind, type Listener, NO_GRPC, type Protocol } from '../../src/outcome/outcome-sink.js'
import type { UpstreamNode } from '../../src/upstream/node.js'

const mk = (pool: PoolName, name: string) => ({ pool, name, inflight: 0 }) as UpstreamNode
const nodes = { x: [mk('x', 'x1'), mk('x', 'x2')], y: [mk('y', 'y1')] }

/** Every call a sink gets, as text. */
function recorder(calls: string[]) {
  return fanOut([
    {
      attemptFailed: (n: UpstreamNode, kind: FailureKind, listener?: Listener) => calls.push(`failed ${n.name} ${kind} ${listener ?? 'http1'}`),
      answered: (n: UpstreamNode, status: number, ms: number, grpcFailed?: boolean, listener?: Listener) =>
        calls.push(`answered ${n.name} ${status} ${ms} ${grpcFailed === true ? 'grpc-failed' : 'ok'} ${listener ?? 'http1'}`),
      finished: (pool: PoolName, status: number, ms: number, _protocol?: Protocol, grpc?: number) => calls.push(`finished ${pool} ${status} ${ms} grpc ${grpc ?? NO_GRPC}`),
    },
  ])
}

function batch(record: (b: OutcomeBatcher) => void): Extract<ToPrimary, { t: 'outcomes' }> {
  const sent: ToPrimary[] = []
  const batcher = new OutcomeBatcher((m) => sent.push(m))
  batcher.setNodes(7, nodes)
  record(batcher)
  batcher.flush()
  t.equal(sent.length, 1, 'one message per flush')
  return sent[0] as Extract<ToPrimary, { t: 'outcomes' }>
}

t.test('what the worker records, the primary replays: same calls, same nodes, same order', async (t) => {
  const expected: string[] = []
  const message = batch((b) => {
    const local = recorder(expected)
    const both = fanOut([b, { attemptFailed: local.attemptFailed, answered: local.answered, finished: local.finished }])
    both.answered(nodes.y[0], 503, 12.5)
    for (const kind of FAILURE_KINDS) both.attemptFailed(nodes.x[1], kind)
    both.answered(nodes.x[0], 200, 3)
    both.finished('y', 502, 40)
    both.finished('x', 200, 3)
    // a gRPC call answered HTTP 200 with grpc-status 14: the console's history needs the status
    both.finished('y', 200, 7, 'h2', 14)
    // attempts on a node's h2 listener: passive health counts them apart from its url's
    both.attemptFailed(nodes.x[0], 'reset', 'h2')
    both.answered(nodes.y[0], 200, 5, true, 'h2')
    both.answered(nodes.y[0], 503, 6, false, 'h2')
  })
  t.equal(message.gen, 7, 'the generation of the node list it is about')
  t.equal(message.records.length % 5, 0, 'five numbers a record')
  const replayed: string[] = []
  replayOutcomes(message.records, nodes, recorder(replayed))
  t.same(replayed, expected)
  t.equal(expected.length, 12)
  t.equal(replayed[8], 'finished y 200 7 grpc 14', "a finished call's grpc-status crosses to the primary")
  t.same(replayed.slice(9), ['failed x1 reset h2', 'answered y1 200 5 grpc-failed h2', 'answered y1 503 6 ok h2'], 'the listener crosses too')
})

t.test("the batch carries each node's in-flight count by pool and index", async (t) => {
  nodes.x[1].inflight = 3
  t.teardown(() => void (nodes.x[1].inflight = 0))
  const message = batch(() => undefined)
  t.same(message.inflight, { x: [0, 3], y: [0] })
  t.same(message.records, [])
})

t.test('replay skips records it cannot place rather than credit the wrong node', async (t) => {
  const calls: string[] = []
  const sink = recorder(calls)
  replayOutcomes([0, 1, 5, 200, 1], nodes, sink) // node index out of range
  replayOutcomes([0, 9, 0, 200, 1], nodes, sink) // no such pool
  replayOutcomes([1, 0, 0, 99, 0], nodes, sink) // no such failure kind
  replayOutcomes([2, 0, -1, 200], nodes, sink) // a truncated record
  t.same(calls, [])
  replayOutcomes([2, 1, -1, 200, 4, 0], nodes, sink) // a whole record and a stray number
  t.same(calls, ['finished y 200 4 grpc -1'])
})

t.test("why a worker's attempt failed crosses with the batch, by node; malformed ones are skipped", async (t) => {
  const message = batch((b) => {
    b.failureExplained(nodes.y[0], 'protocol', 'response head refused: Content-Length with Transfer-Encoding')
    b.failureExplained(nodes.x[1], 'connect', 'connect ECONNREFUSED 10.0.0.12:8000')
  })
  t.same(message.records, [], 'no outcome records for them')
  const seen: string[] = []
  const sink = { failureExplained: (n: UpstreamNode, kind: FailureKind, why: string) => seen.push(`${n.name} ${kind} ${why}`) }
  replayWhys(message.whys, nodes, sink)
  t.same(seen, ['y1 protocol response head refused: Content-Length with Transfer-Encoding', 'x2 connect connect ECONNREFUSED 10.0.0.12:8000'])
  seen.length = 0
  // out of range, no such pool or kind, not a string, not a list: skipped
  replayWhys([[0, 5, 0, 'a'], [9, 0, 0, 'b'], [0, 0, 99, 'c'], [0, 0, 0, 7 as unknown as string], 'x' as unknown as [number, number, number, string]], nodes, sink)
  replayWhys(undefined, nodes, sink)
  replayWhys({} as unknown as [], nodes, sink)
  t.same(seen, [])
  t.equal(batch((b) => b.finished('x', 200, 1)).whys, undefined, 'nothing to say: no whys in the message')
})
