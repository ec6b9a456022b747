import t from 'tap'
import { judgeProm, readPromAnswer } from '../../src/analysis/prom-answer.js'

const vector = (...values: string[]) => ({ status: 'success', data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { instance: `n${i}` }, value: [1700000000.5, v] })) } })

t.test("Prometheus's shapes: vector, scalar, empty, error, NaN, others", async (t) => {
  t.same(readPromAnswer(200, vector('0.5', '0.02'), 'max'), { kind: 'value', value: 0.5, series: 2 })
  t.same(readPromAnswer(200, vector('0.5', '0.02'), 'min'), { kind: 'value', value: 0.02, series: 2 })
  t.same(readPromAnswer(200, { status: 'success', data: { resultType: 'scalar', result: [1700000000, '7'] } }, 'max'), { kind: 'value', value: 7, series: 1 })
  t.match(readPromAnswer(200, vector(), 'max'), { kind: 'none', why: /no data/ })
  t.match(readPromAnswer(400, { status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }, 'max'), { kind: 'none', why: /400 bad_data: parse error/ })
  t.match(readPromAnswer(200, vector('NaN'), 'max'), { kind: 'none', why: /"NaN"/ })
  t.same(readPromAnswer(200, vector('+Inf'), 'max'), { kind: 'value', value: Infinity, series: 1 })
  t.match(readPromAnswer(200, { status: 'success', data: { resultType: 'matrix', result: [] } }, 'max'), { kind: 'none', why: /matrix/ })
  t.match(readPromAnswer(200, { status: 'success', data: { resultType: 'vector', result: [{ value: [1, '1'] }] } }, 'max'), { kind: 'none', why: /metric/ })
  t.match(readPromAnswer(200, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 1] }] } }, 'max'), { kind: 'none' })
  t.match(readPromAnswer(502, undefined, 'max'), { kind: 'none', why: /502/ })
  t.match(readPromAnswer(503, { status: 'success', data: {} }, 'max'), { kind: 'none', why: /503/ })
})

t.test('the verdict: fail past max or min, pass within, none without data (never a pass)', async (t) => {
  const gate = { name: 'errors', query: 'q', max: 0.01 }
  t.match(judgeProm(gate, { kind: 'value', value: 0.042, series: 1 }), { verdict: 'fail', value: 0.042, detail: 'errors = 0.042 > max 0.01' })
  t.match(judgeProm(gate, { kind: 'value', value: 0.01, series: 1 }), { verdict: 'pass', value: 0.01 })
  t.match(judgeProm(gate, { kind: 'none', why: 'no data: the query matched no series' }), { verdict: 'none', value: null })
  const both = { name: 'rps', query: 'q', max: 100, min: 1 }
  t.match(judgeProm(both, { kind: 'value', value: 50, series: 2 }, { kind: 'value', value: 0.5, series: 2 }), { verdict: 'fail', detail: 'rps = 0.5 < min 1' })
})
