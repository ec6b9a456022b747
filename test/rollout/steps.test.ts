import t from 'tap'
import { parseSteps } from '../../src/rollout/steps.js'

t.test('valid steps become ms holds', (t) => {
  t.same(parseSteps([{ y: 10, hold: '5m' }, { y: 50.25, hold: '90s' }, { y: 100 }]), [
    { y: 10, hold: 300_000 },
    { y: 50.25, hold: 90_000 },
    { y: 100, hold: 0 },
  ])
  t.same(parseSteps([{ y: 100, hold: '1s' }]), [{ y: 100, hold: 1000 }], 'a last step may hold')
  t.end()
})

t.test('bad steps are 400 naming the field', (t) => {
  const cases: [unknown, RegExp][] = [
    [undefined, /^steps:/],
    [[], /^steps:/],
    [{ y: 10 }, /^steps:/],
    [[5], /^steps\[0\]:/],
    [[{ y: '10', hold: '1m' }, { y: 100 }], /^steps\[0\]\.y:/],
    [[{ y: 101 }], /^steps\[0\]\.y:/],
    [[{ y: -1 }], /^steps\[0\]\.y:/],
    [[{ y: 10.123, hold: '1m' }, { y: 100 }], /^steps\[0\]\.y:/],
    [[{ y: 50, hold: '1m' }, { y: 50 }], /^steps\[1\]\.y:/],
    [[{ y: 10, hold: '1m' }, { y: 50 }, { y: 100 }], /^steps\[1\]\.hold:/],
    [[{ y: 10, hold: '5' }, { y: 100 }], /^steps\[0\]\.hold:/],
    [[{ y: 10, hold: 300 }, { y: 100 }], /^steps\[0\]\.hold:/],
    [[{ y: 10, hold: '1m', wait: 1 }, { y: 100 }], /^steps\[0\]\.wait:/],
    [Array.from({ length: 101 }, (_, i) => ({ y: i / 2, hold: '1s' })), /^steps:/],
  ]
  for (const [raw, message] of cases) {
    t.throws(() => parseSteps(raw), { code: 'CUTOVER_ERR_BAD_REQUEST', message }, JSON.stringify(raw)?.slice(0, 60))
  }
  t.end()
})
