/** A worker's shadow batch: bounded (classes, samples over its life, long differences) and merged whole at the primary. */

import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import { MAX_BATCH_CLASSES, MAX_DIFFERENCE_CHARS, ShadowBatcher } from '../../src/shadow/batcher.js'
import { type MismatchInput, SAMPLES_PER_CLASS, type ShadowBatch, ShadowResults } from '../../src/shadow/results.js'

const clock = new FakeClock()

function mismatch(route: string, differences = ['body field v']): MismatchInput {
  return { method: 'GET', route, target: `${route}?k=secret`, requestHeaders: ['Authorization', 'Bearer secret', 'x-plain', 'shown'], xStatus: 200, yStatus: 200, differences }
}

t.test('nothing gathered: no batch', async (t) => {
  t.equal(new ShadowBatcher(clock).flush(), null)
})

t.test('samples: no more of a class than the primary keeps, over the worker’s life', async (t) => {
  const b = new ShadowBatcher(clock)
  for (let i = 0; i < 100; i++) b.mismatch(mismatch('/a'))
  const first = b.flush()!
  t.equal(first.classes.length, 1)
  t.equal(first.classes[0].count, 100)
  t.equal(first.classes[0].samples.length, SAMPLES_PER_CLASS)
  t.same(first.classes[0].samples[0].headers, { authorization: '[redacted]', 'x-plain': 'shown' }, 'redacted before it leaves the worker')
  t.equal(first.classes[0].samples[0].target, '/a?k=…')
  b.mismatch(mismatch('/a'))
  t.same(b.flush()!.classes[0].samples, [], 'the class had its samples')
})

t.test('classes: at most MAX_BATCH_CLASSES a batch, the rest counted; long differences shortened', async (t) => {
  const b = new ShadowBatcher(clock)
  for (let i = 0; i < MAX_BATCH_CLASSES + 8; i++) b.mismatch(mismatch(`/c${i}`, ['x'.repeat(5000)]))
  b.count('match')
  b.drop('busy')
  const batch = b.flush()!
  t.equal(batch.classes.length, MAX_BATCH_CLASSES)
  t.equal(batch.other, 8)
  t.same(batch.totals, { match: 1, mismatch: MAX_BATCH_CLASSES + 8, error: 0, dropped: 1 })
  t.equal(batch.dropped_reasons.busy, 1)
  t.equal(batch.classes[0].differences[0].length, MAX_DIFFERENCE_CHARS + 1)
  t.ok(JSON.stringify(batch).length < 64 * 1024, 'a batch stays small')

  const outcomes: string[] = []
  const drops: string[] = []
  const results = new ShadowResults({ clock, onOutcome: (o, n) => outcomes.push(`${o} ${n}`), onDrop: (r, n) => drops.push(`${r} ${n}`) })
  results.merge(batch)
  results.merge(batch)
  const report = results.report(100)
  t.same(report.totals, { match: 2, mismatch: 2 * (MAX_BATCH_CLASSES + 8), error: 0, dropped: 2 })
  t.equal(report.dropped_reasons.busy, 2)
  t.equal(report.other_mismatches, 16)
  t.equal(report.classes[0].count, 2)
  t.same(outcomes.slice(0, 3), ['match 1', 'mismatch 40', 'dropped 1'], 'the metric counted by batch')
  t.same(drops, ['busy 1', 'busy 1'], 'the drop reasons too')
  results.drop('timeout')
  t.same(drops.at(-1), 'timeout 1', 'a drop here counted with its reason')
})

t.test('a malformed batch is skipped, not counted', async (t) => {
  const results = new ShadowResults({ clock })
  results.merge({
    totals: { match: -1, mismatch: 'x', error: 1.5 },
    dropped_reasons: null,
    classes: [{ count: 0 }, { method: 'GET', route: '/', x_status: 200, y_status: 500, count: 2, differences: 'no', samples: null }],
    other: -3,
  } as unknown as ShadowBatch)
  const report = results.report()
  t.same(report.totals, { match: 0, mismatch: 0, error: 0, dropped: 0 })
  t.equal(report.classes.length, 1)
  t.same(report.classes[0].samples, [])
  t.equal(report.other_mismatches, 0)
})
