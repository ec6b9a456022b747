import t from 'tap'
import { failureStatus } from '../../src/forwarding/failure.js'

t.test('statuses', async (t) => {
  t.equal(failureStatus('timeout'), 504)
  t.equal(failureStatus('connect'), 502)
  t.equal(failureStatus('reset'), 502)
  t.equal(failureStatus('protocol'), 502)
})
