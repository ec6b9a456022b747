import t from 'tap'
import { MAX_REASON_LENGTH, parseEmptyBody, parseEventsQuery, parseReasonBody, parseRolloutBody, parseSplitBody } from '../../src/control/bodies.js'

const BAD = { code: 'CUTOVER_ERR_BAD_REQUEST' }

t.test('parseSplitBody', async (t) => {
  t.equal(parseSplitBody({ y: 0 }), 0)
  t.equal(parseSplitBody({ y: 100 }), 100)
  t.equal(parseSplitBody({ y: 0.29 }), 0.29)
  for (const body of [undefined, null, [], 5, 'y', {}, { y: '5' }, { y: NaN }, { y: Infinity }, { y: 100.5 }, { y: -0.01 }, { y: 0.001 }, { y: 5, z: 1 }]) {
    t.throws(() => parseSplitBody(body), BAD, JSON.stringify(body) ?? String(body))
  }
  t.throws(() => parseSplitBody({ y: 5, force: true }), { message: /^force: / })
  t.throws(() => parseSplitBody({}), { message: /^y: / })
})

t.test('parseReasonBody', async (t) => {
  t.equal(parseReasonBody(undefined, 'default'), 'default')
  t.equal(parseReasonBody({}, 'default'), 'default')
  t.equal(parseReasonBody({}, undefined), undefined)
  t.equal(parseReasonBody({ reason: 'why' }, 'default'), 'why')
  t.equal(parseReasonBody({ reason: 'r'.repeat(MAX_REASON_LENGTH) }, 'd').length, MAX_REASON_LENGTH)
  for (const body of [{ reason: '' }, { reason: ' ' }, { reason: 'r'.repeat(MAX_REASON_LENGTH + 1) }, { reason: null }, { reason: ['a'] }, { other: 1 }, 'reason', [1]]) {
    t.throws(() => parseReasonBody(body, 'd'), BAD, JSON.stringify(body))
  }
})

t.test('parseEmptyBody and parseRolloutBody', async (t) => {
  t.doesNotThrow(() => parseEmptyBody(undefined))
  t.doesNotThrow(() => parseEmptyBody({}))
  t.throws(() => parseEmptyBody({ a: 1 }), BAD)
  t.throws(() => parseEmptyBody('x'), BAD)
  t.equal(parseRolloutBody(undefined), undefined)
  t.equal(parseRolloutBody({}), undefined)
  const steps = [{ y: 10, hold: '5m' }]
  t.equal(parseRolloutBody({ steps }), steps, 'steps pass through for the runner to check')
  t.throws(() => parseRolloutBody({ steps: 'all' }), BAD)
  t.throws(() => parseRolloutBody({ plan: [] }), BAD)
})

t.test('parseEventsQuery', async (t) => {
  t.same(parseEventsQuery({}), { since: 0, limit: 1000 })
  t.same(parseEventsQuery(undefined), { since: 0, limit: 1000 })
  t.same(parseEventsQuery({ since: '17', limit: '1' }), { since: 17, limit: 1 })
  for (const q of [{ since: '-1' }, { since: '' }, { since: '1e3' }, { since: ['1', '2'] }, { limit: '0' }, { limit: '1001' }, { other: '1' }, { since: '99999999999999999' }]) {
    t.throws(() => parseEventsQuery(q), BAD, JSON.stringify(q))
  }
})
