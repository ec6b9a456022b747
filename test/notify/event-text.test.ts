import t from 'tap'
import { eventText, isNotified } from '../../src/notify/event-text.js'
import type { CutoverEvent } from '../../src/state/events.js'

const ev = (type: string, details: Record<string, unknown> = {}): CutoverEvent => ({ id: 1, at: '2026-01-01T00:00:00.000Z', type, ...details })

t.test('which types are notified', async (t) => {
  for (const type of ['rollback', 'unlock', 'split.changed', 'state.unreadable', 'rollout.step', 'rollout.done', 'node.healthy', 'node.ejected', 'gate.failed', 'config.reloaded', 'config.reload_refused']) t.ok(isNotified(type), type)
  for (const type of ['startup', 'rollouts', 'nodes', 'split', 'split.changedx', 'gate', 'x.rollback']) t.notOk(isNotified(type), type)
})

t.test('each notified type reads as one human line', async (t) => {
  const cases: Array<[CutoverEvent, RegExp]> = [
    [ev('rollback', { cause: 'gate', reason: 'error_rate 0.083 > 0.01 over 412 requests', from: 25, to: 0 }), /^:rotating_light: cutover rolled back to x: error_rate 0\.083 > 0\.01 over 412 requests \(y was 25%; split locked by the gate\)$/],
    [ev('rollback', { cause: 'api', from: 5 }), /rolled back to x: no reason given \(y was 5%; split locked\)$/],
    [ev('unlock', { cause: 'api' }), /^:unlock: cutover split unlocked \(api\)$/],
    [ev('split.changed', { cause: 'api', from: 10, to: 25.5 }), /y 10% → 25\.5% \(api\)$/],
    [ev('state.unreadable', { reason: 'bad JSON' }), /state file unreadable \(bad JSON\); started with y at 0, locked/],
    [ev('rollout.started', { steps: [{}, {}, {}], from: 0, to: 10 }), /rollout started: 3 steps, y 0% → 10%/],
    [ev('rollout.step', { step: 1, from: 10, to: 50 }), /rollout step 2: y 10% → 50%/],
    [ev('rollout.paused', { cause: 'gate', step: 0, y: 10, reason: 'p99 1200 > 1000' }), /paused at step 1 \(y 10%\) \(gate\): p99 1200 > 1000$/],
    [ev('rollout.resumed', { step: 0, y: 10 }), /resumed at step 1/],
    [ev('rollout.promoted', { from: 50, to: 100 }), /promoted: y 50% → 100%/],
    [ev('rollout.done', { to: 100 }), /rollout done: y at 100%/],
    [ev('rollout.holding', { step: 2, y: 50, reason: '37 of 100 requests' }), /holding at step 3 \(y 50%\): 37 of 100 requests/],
    [ev('node.healthy', { pool: 'y', node: 'a:1', cause: '2 probes ok' }), /^:large_green_circle: cutover node y:a:1 healthy: 2 probes ok$/],
    [ev('node.ejected', { pool: 'x', node: 'b:2', for_ms: 30000, cause: '5 failures' }), /node x:b:2 ejected for 30s: 5 failures/],
    [ev('node.returned', { pool: 'x', node: 'b:2' }), /node x:b:2 back in rotation$/],
    [ev('gate.failed', { action: 'pause', reason: 'r' }), /gate failed \(action pause\): r$/],
    [ev('config.reloaded', { added: ['y:http://n:1'], removed: [] }), /config reloaded: added y:http:\/\/n:1$/],
    [ev('config.reload_refused', { problems: ['pools.y.nodes[1]: not a URL'] }), /reload refused: pools\.y\.nodes\[1\]: not a URL/],
    [ev('rollout.weird', { cause: 'api' }), /^cutover rollout\.weird \(api\)$/],
  ]
  for (const [e, re] of cases) {
    const text = eventText(e)
    t.match(text, re, e.type)
    t.notMatch(text, /\n/, 'one line')
  }
})
