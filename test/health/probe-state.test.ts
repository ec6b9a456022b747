import t from 'tap'
import { applyProbe, initialCounters, probeFailureText } from '../../src/health/probe-state.js'

const th = { healthy_threshold: 2, unhealthy_threshold: 3 }
const ok = { ok: true, status: 200, ms: 3 }
const refused = { ok: false, error: 'connection refused', ms: 1 }
const s503 = { ok: false, status: 503, ms: 2 }

t.test('unknown node turns healthy after healthy_threshold successes in a row', async (t) => {
  let step = applyProbe(null, initialCounters(), ok, th)
  t.same(step.counters, { successes: 1, failures: 0 })
  t.equal(step.transition, null)
  step = applyProbe(null, step.counters, ok, th)
  t.same(step.transition, { healthy: true, cause: 'probe passed 2/2' })
})

t.test('unknown node turns unhealthy after unhealthy_threshold failures, with the last error', async (t) => {
  let c = initialCounters()
  let step = applyProbe(null, c, s503, th)
  step = applyProbe(null, step.counters, s503, th)
  t.equal(step.transition, null)
  step = applyProbe(null, step.counters, refused, th)
  t.same(step.transition, { healthy: false, cause: 'probe failed 3/3: connection refused' })
  c = step.counters
  t.same(c, { successes: 0, failures: 3 })
})

t.test('a success breaks a run of failures and the other way round', async (t) => {
  let step = applyProbe(true, initialCounters(), s503, th)
  step = applyProbe(true, step.counters, s503, th)
  step = applyProbe(true, step.counters, ok, th)
  t.same(step.counters, { successes: 1, failures: 0 })
  step = applyProbe(true, step.counters, s503, th)
  step = applyProbe(true, step.counters, s503, th)
  t.equal(step.transition, null, 'two failures after a success are not three')
  step = applyProbe(true, step.counters, s503, th)
  t.same(step.transition, { healthy: false, cause: 'probe failed 3/3: status 503' })
})

t.test('no transition when the verdict already holds', async (t) => {
  let step = applyProbe(true, { successes: 5, failures: 0 }, ok, th)
  t.equal(step.transition, null)
  step = applyProbe(false, { successes: 0, failures: 7 }, s503, th)
  t.equal(step.transition, null)
  t.same(step.counters, { successes: 0, failures: 8 })
})

t.test('threshold 1 flips at once', async (t) => {
  const one = { healthy_threshold: 1, unhealthy_threshold: 1 }
  t.same(applyProbe(true, initialCounters(), s503, one).transition, { healthy: false, cause: 'probe failed 1/1: status 503' })
  t.same(applyProbe(false, initialCounters(), ok, one).transition, { healthy: true, cause: 'probe passed 1/1' })
})

t.test('failure text', async (t) => {
  t.equal(probeFailureText({ ok: false, error: 'timeout after 5ms', ms: 5 }), 'timeout after 5ms')
  t.equal(probeFailureText({ ok: false, status: 500, ms: 5 }), 'status 500')
  t.equal(probeFailureText({ ok: false, ms: 5 }), 'failed')
})
