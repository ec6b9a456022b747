import t from 'tap'
import { validateRolloutSteps } from '../../src/config/load.js'

t.test('valid steps come back in ms, the last hold defaulting to 0', async (t) => {
  t.same(validateRolloutSteps([{ y: 10, hold: '5m' }, { y: 50.25, hold: '30s' }, { y: 100 }], 'steps'), {
    steps: [
      { y: 10, hold: 300_000 },
      { y: 50.25, hold: 30_000 },
      { y: 100, hold: 0 },
    ],
    problems: [],
  })
  t.same(validateRolloutSteps([{ y: 100, hold: '1m' }], 'steps').steps, [{ y: 100, hold: 60_000 }])
})

t.test('every problem is named by its path, without line numbers', async (t) => {
  const result = validateRolloutSteps([{ y: 20 }, { y: 10, hold: 60 }, { y: 12.345, hold: '1m', extra: 1 }, 'x'], 'steps')
  t.equal(result.steps, undefined)
  t.same(
    result.problems.map((p) => p.replace(/:.*/, '')),
    ['steps[0].hold', 'steps[1].hold', 'steps[1].y', 'steps[2].extra', 'steps[2].y', 'steps[3]'],
  )
  t.notMatch(result.problems.join('\n'), /\(line/)
})

t.test('not a list, or empty', async (t) => {
  t.match(validateRolloutSteps(undefined, 'steps').problems, [/^steps: expected a list of steps/])
  t.match(validateRolloutSteps({ y: 10 }, 'body.steps').problems, [/^body\.steps: expected a list/])
  t.match(validateRolloutSteps([], 'steps').problems, [/^steps: needs at least one step/])
})
