import t from 'tap'
import { eventSentence, eventText, isNotified } from '../../src/notify/event-text.js'
import type { CutoverEvent } from '../../src/state/events.js'

const ev = (type: string, details: Record<string, unknown> = {}): CutoverEvent => ({ id: 1, at: '2026-01-01T00:00:00.000Z', type, ...details })

t.test('which types are notified', async (t) => {
  for (const type of [
    'rollback',
    'unlock',
    'split.changed',
    'state.unreadable',
    'rollout.step',
    'rollout.done',
    'node.healthy',
    'node.ejected',
    'gate.failed',
    'config.reloaded',
    'config.reload_refused',
  ])
    t.ok(isNotified(type), type)
  for (const type of ['startup', 'rollouts', 'nodes', 'split', 'split.changedx', 'gate', 'x.rollback']) t.notOk(isNotified(type), type)
})

t.test('each type reads as one sentence: steps from 1, shares and durations as everywhere else', async (t) => {
  const cases: Array<[CutoverEvent, string]> = [
    [
      ev('rollback', { cause: 'gate', reason: 'gate max_error_rate: error_rate 0.083 > 0.01 over 412 requests', from: 25, to: 0, rollout_stopped: true }),
      'The gate rolled y back to x: gate max_error_rate: error_rate 0.083 > 0.01 over 412 requests. y was at 25%, the rollout stopped; the split stays locked until unlocked',
    ],
    [ev('rollback', { cause: 'api', from: 5, rollout_stopped: false }), 'Rolled back to x by the API: no reason given. y was at 5%; the split stays locked until unlocked'],
    [ev('unlock', { cause: 'api' }), 'Split unlocked by the API'],
    [ev('split.changed', { cause: 'api', from: 10, to: 25.5 }), 'Split set by the API: y 10% → 25.5%'],
    [ev('startup', { cause: 'startup', source: 'config split.y', y: 10, locked: false }), "cutover started with y at 10% (from the config's split.y)"],
    [ev('state.unreadable', { reason: 'bad JSON', moved_to: '/s.bad' }), 'The state file could not be read (bad JSON); it was moved aside to /s.bad and cutover started with y at 0%, split locked'],
    [
      ev('rollout.started', {
        cause: 'api',
        steps: [
          { y: 10, hold: 10_000 },
          { y: 50, hold: 90_000 },
          { y: 100, hold: 0 },
        ],
        step: 0,
        from: 0,
        to: 10,
      }),
      'Rollout started by the API: 10% (hold 10 s) → 50% (hold 1 min 30 s) → 100%; y 0% → 10%',
    ],
    [
      ev('rollout.started', {
        cause: 'api',
        steps: [
          { y: 10, hold: 1000 },
          { y: 50, hold: 1000 },
        ],
        step: 1,
        of: 2,
        from: 30,
        to: 50,
      }),
      'Rollout started by the API: 10% (hold 1 s) → 50% (hold 1 s), starting at step 2 of 2 because y was already at 30%; y 30% → 50%',
    ],
    [
      ev('rollout.started', {
        cause: 'api',
        steps: [
          { y: 10, hold: 10_000 },
          { y: 100, hold: 0 },
        ],
        step: 0,
        of: 2,
        from: 10,
        to: 10,
      }),
      'Rollout started by the API: 10% (hold 10 s) → 100%; y stays at 10%',
    ],
    [ev('rollout.step', { cause: 'rollout', step: 1, of: 3, from: 10, to: 50 }), 'Rollout step 2 of 3: y 10% → 50%'],
    [ev('rollout.step', { step: 1, from: 10, to: 50 }), 'Rollout step 2: y 10% → 50%'],
    [ev('rollout.paused', { cause: 'gate', step: 0, of: 3, y: 10, reason: 'p99 1200 > 1000' }), 'Rollout paused at step 1 of 3 (y 10%) by the gate: p99 1200 > 1000'],
    [ev('rollout.resumed', { cause: 'api', step: 0, y: 10 }), 'Rollout resumed at step 1 (y 10%) by the API'],
    [ev('rollout.promoted', { cause: 'api', from: 50, to: 100 }), 'Rollout promoted by the API: y 50% → 100%, the plan is finished'],
    [ev('rollout.done', { to: 100 }), 'Rollout done: y at 100%'],
    [ev('rollout.holding', { step: 2, of: 3, y: 50, holding: 'y has 37 of the 100 requests a step needs' }), 'Rollout holding at step 3 of 3 (y 50%): y has 37 of the 100 requests a step needs'],
    [ev('node.healthy', { pool: 'y', node: 'kong-y1', cause: 'probe ok 2/2' }), 'y node kong-y1 is healthy: probe ok 2/2'],
    [ev('node.ejected', { pool: 'x', node: 'b:2', for_ms: 30000, cause: '5 failures' }), 'x node b:2 ejected for 30 s: 5 failures'],
    [
      ev('node.ejected', { pool: 'x', node: 'b:2', for_ms: 30000, cause: '5 failures', why: 'connect ECONNREFUSED 10.0.0.2:8000' }),
      'x node b:2 ejected for 30 s: 5 failures (connect ECONNREFUSED 10.0.0.2:8000)',
    ],
    [ev('node.returned', { pool: 'x', node: 'b:2' }), 'x node b:2 is back in rotation'],
    [ev('gate.failed', { action: 'pause', reason: 'r' }), 'Gate failed, action pause: r'],
    [
      ev('config.drift', { kind: 'hash_changed', action: 'pause', reason: 'config drift: node kong-x2 of pool x changed its config during the upgrade (1f2e3d4c5b6a -> 9a8b7c6d5e4f)' }),
      'Config drift, action pause: node kong-x2 of pool x changed its config during the upgrade (1f2e3d4c5b6a -> 9a8b7c6d5e4f)',
    ],
    [ev('config.reloaded', { added: ['y:http://n:1'], removed: [], needs_restart: ['proxy.listen'] }), 'Config reloaded: added y:http://n:1; proxy.listen need a restart'],
    [ev('config.reload_refused', { problems: ['pools.y.nodes[1]: not a URL'] }), 'Config reload refused, the running config stays: pools.y.nodes[1]: not a URL'],
    [ev('worker.exited', { pid: 42, code: 1, signal: null }), 'Worker 42 exited (code 1)'],
    [
      ev('state.invalid', { cause: 'fleet', key: '/cutover/state', reason: 'refused a shared state: y is 150; kept y 10' }),
      'The shared state in etcd (/cutover/state) was refused: y is 150; kept y 10',
    ],
    [
      ev('rollback.shared', { cause: 'fleet', reason: 'the rollback made on a while etcd was unreachable is now the shared state: r' }),
      'The rollback made on a while etcd was unreachable is now the shared state: r',
    ],
    [ev('fleet.leader', { cause: 'fleet', leading: true, reason: 'replica-a leads the fleet' }), 'replica-a leads the fleet'],
    [ev('fleet.leader', { cause: 'fleet', leading: false }), 'This replica no longer leads the fleet'],
    [ev('fleet.invalid', { cause: 'fleet', reason: 'refused a replica record: bad JSON' }), 'A replica record in etcd was refused: bad JSON'],
    [ev('rollout.weird', { cause: 'api' }), 'rollout.weird by the API'],
  ]
  for (const [e, expected] of cases) t.equal(eventSentence(e), expected, e.type)
  t.equal(eventSentence(ev('gate.failed', { action: 'pause', reason: 'a\nb' })), 'Gate failed, action pause: a b', 'one line')
})

t.test('the webhook text is the sentence with an emoji and the name in front', async (t) => {
  t.equal(eventText(ev('rollback', { cause: 'api', reason: 'r', from: 5 })), ':rotating_light: cutover: Rolled back to x by the API: r. y was at 5%; the split stays locked until unlocked')
  t.equal(eventText(ev('startup', { y: 0 })), "cutover: cutover started with y at 0% (from the config's split.y)")
})
