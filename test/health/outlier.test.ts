import t from 'tap'
import { eject, ejectionCause, ejectionDuration, isGatewayFailure, newOutlierState, recordFailure, recordSuccess } from '../../src/health/outlier.js'

const cfg = { max_failures: 3, eject_for: 1000 }
const T0 = 1_000_000

t.test('gateway failures are 502, 503, 504 only', async (t) => {
  for (const s of [502, 503, 504]) t.ok(isGatewayFailure(s), `${s}`)
  for (const s of [200, 301, 404, 429, 500, 501, 505]) t.notOk(isGatewayFailure(s), `${s}`)
})

t.test('max_failures in a row make the node due; a success resets the count', async (t) => {
  const s = newOutlierState()
  t.notOk(recordFailure(s, 502, T0, cfg))
  t.notOk(recordFailure(s, 'connect', T0, cfg))
  recordSuccess(s)
  t.equal(s.failures, 0)
  t.notOk(recordFailure(s, 503, T0, cfg))
  t.notOk(recordFailure(s, 'reset', T0, cfg))
  t.ok(recordFailure(s, 504, T0, cfg))
  t.equal(s.lastCause, 504)
  t.equal(ejectionCause(s, cfg), 'ejected after 3 failures: 504')
})

t.test('eject sets the end, resets the count, and is refused for the last usable node', async (t) => {
  const s = newOutlierState()
  for (let i = 0; i < 3; i++) recordFailure(s, 'connect', T0, cfg)
  t.equal(eject(s, T0, 0, cfg), 0, 'no other usable node: stays')
  t.equal(s.ejectedUntil, 0)
  t.equal(s.failures, 3, 'count kept: it goes once another node is usable')
  t.ok(recordFailure(s, 'connect', T0 + 1, cfg))
  t.equal(eject(s, T0 + 1, 1, cfg), 1000)
  t.equal(s.ejectedUntil, T0 + 1001)
  t.equal(s.failures, 0)
  t.notOk(recordFailure(s, 502, T0 + 500, cfg), 'failures while ejected are not counted')
  t.equal(s.failures, 0)
  t.equal(eject(s, T0 + 500, 1, cfg), 0, 'not ejected twice')
})

t.test('not due: eject does nothing', async (t) => {
  const s = newOutlierState()
  recordFailure(s, 502, T0, cfg)
  t.equal(eject(s, T0, 5, cfg), 0)
})

t.test('durations double up to 10x eject_for', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 6, 50].map((n) => ejectionDuration(n, 1000)),
    [1000, 2000, 4000, 8000, 10000, 10000, 10000],
  )
})

t.test('repeated ejections double, capped; a healthy spell of 10x eject_for resets', async (t) => {
  const s = newOutlierState()
  let now = T0
  const seen: number[] = []
  for (let i = 0; i < 6; i++) {
    for (let k = 0; k < 3; k++) recordFailure(s, 502, now, cfg)
    const ms = eject(s, now, 2, cfg)
    seen.push(ms)
    now = s.ejectedUntil // fails again right after it comes back
  }
  t.same(seen, [1000, 2000, 4000, 8000, 10000, 10000])
  // almost a healthy spell: the streak goes on
  now += 9999
  for (let k = 0; k < 3; k++) recordFailure(s, 502, now, cfg)
  t.equal(eject(s, now, 2, cfg), 10000)
  now = s.ejectedUntil + 10000
  for (let k = 0; k < 3; k++) recordFailure(s, 502, now, cfg)
  t.equal(eject(s, now, 2, cfg), 1000, 'a full healthy spell starts the doubling over')
})
