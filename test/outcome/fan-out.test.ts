import t from 'tap'
import { fanOut } from '../../src/outcome/fan-out.js'
import type { FailureKind, OutcomeSink } from '../../src/outcome/outcome-sink.js'
import type { UpstreamNode } from '../../src/upstream/node.js'

const node = { name: 'n1', pool: 'y' } as UpstreamNode

t.test('each method reaches only the sinks that implement it, with this bound', async (t) => {
  const calls: string[] = []
  class Failures implements OutcomeSink {
    readonly tag = 'failures'
    attemptFailed(n: UpstreamNode, kind: FailureKind): void {
      calls.push(`${this.tag} failed ${n.name} ${kind}`)
    }
  }
  class Everything implements OutcomeSink {
    readonly tag = 'all'
    attemptStarted(n: UpstreamNode): void {
      calls.push(`${this.tag} started ${n.name}`)
    }
    attemptFailed(n: UpstreamNode, kind: FailureKind): void {
      calls.push(`${this.tag} failed ${n.name} ${kind}`)
    }
    answered(n: UpstreamNode, status: number, ms: number): void {
      calls.push(`${this.tag} answered ${n.name} ${status} ${ms}`)
    }
    attemptEnded(n: UpstreamNode): void {
      calls.push(`${this.tag} ended ${n.name}`)
    }
    finished(pool: string, status: number, ms: number): void {
      calls.push(`${this.tag} finished ${pool} ${status} ${ms}`)
    }
  }
  const report = fanOut([new Failures(), {}, new Everything()])
  report.attemptStarted(node)
  report.attemptFailed(node, 'reset')
  report.answered(node, 200, 3)
  report.attemptEnded(node)
  report.finished('y', 200, 4)
  t.same(calls, ['all started n1', 'failures failed n1 reset', 'all failed n1 reset', 'all answered n1 200 3', 'all ended n1', 'all finished y 200 4'])
})

t.test('a method no sink implements is one shared no-op; one implementer is called directly', async (t) => {
  let finished = 0
  const report = fanOut([{ finished: () => finished++ }, {}])
  t.equal(report.attemptStarted, report.attemptEnded, 'both the same no-op')
  report.attemptStarted(node)
  report.finished('x', 502, 1)
  t.equal(finished, 1)
})

t.test('no sinks at all: every method is callable', async (t) => {
  const report = fanOut([])
  t.doesNotThrow(() => {
    report.attemptStarted(node)
    report.attemptFailed(node, 'connect')
    report.answered(node, 200, 1)
    report.attemptEnded(node)
    report.finished('x', 200, 1)
  })
})
