/**
 * PromQL gates and step hooks end to end: a Prometheus stand-in answering the real HTTP
 * API format (/api/v1/query: a vector, an empty result, an error) drives a gate to no
 * verdict (the step holds), fail (the rollout pauses, the event has the query, value and
 * threshold) and pass (the rollout goes on); a hook server says no, then yes.
 */

import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { FakeClock } from '../../src/clock.js'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const QUERY = 'sum(rate(kong_http_requests_total{code=~"5.."}[1m])) / sum(rate(kong_http_requests_total[1m]))'

type Mode = 'pass' | 'fail' | 'empty' | 'error' | 'nan'

function prometheus(mode: { value: Mode }, queries: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    const url = new URL(req.url ?? '/', 'http://p')
    if (url.pathname !== '/api/v1/query') {
      res.writeHead(404)
      res.end()
      return
    }
    queries.push(url.searchParams.get('query') ?? '')
    const vector = (v: string) => ({ status: 'success', data: { resultType: 'vector', result: [{ metric: { service: 'a' }, value: [Date.now() / 1000, v] }] } })
    const answers: Record<Mode, [number, unknown]> = {
      pass: [200, vector('0.001')],
      fail: [200, vector('0.5')],
      nan: [200, vector('NaN')],
      empty: [200, { status: 'success', data: { resultType: 'vector', result: [] } }],
      error: [400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error' }],
    }
    const [status, body] = answers[mode.value]
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
}

/**
 * Poll check, moving cutover's fake clock 100 ms before each look: the rollout's tick (1 s),
 * the query interval and the hook retry go by in fake time, the HTTP calls in real time.
 */
function advancing<T>(clock: FakeClock, what: string, check: () => Promise<T | undefined>): Promise<T> {
  return waitUntil(
    what,
    async () => {
      clock.advance(100)
      return check()
    },
    8000,
    5,
  )
}

async function holding(c: Awaited<ReturnType<typeof startTestCutover>>, clock: FakeClock, pattern: RegExp) {
  return advancing(clock, `holding ${pattern}`, async () => {
    const { body } = await c.api('GET', '/v1/state')
    return pattern.test(body.rollout?.holding ?? '') ? body : undefined
  })
}

t.test('no data holds the step, a fail pauses with the query, value and threshold, a pass goes on', async (t) => {
  const mode = { value: 'empty' as Mode }
  const queries: string[] = []
  const prom = await startUpstream('prom', prometheus(mode, queries))
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const clock = new FakeClock()
  const c = await startTestCutover({
    x: [x.url],
    y: [y.url],
    start: { clock },
    extra: `gates:\n  action: pause\nanalysis:\n  prometheus: { url: ${prom.url}, interval: 100ms }\n  queries:\n    - { name: kong_5xx_ratio, query: '${QUERY}', max: 0.01 }\nrollout:\n  steps:\n    - { y: 0, hold: 200ms }\n    - { y: 100 }\n`,
  })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([prom.close(), x.close(), y.close()])
  })
  const started = await c.api('POST', '/v1/rollout')
  t.equal(started.status, 200, JSON.stringify(started.body))
  const empty = await holding(c, clock, /no verdict \(no data/)
  t.equal(empty.split.y, 0, 'no data is never a pass')
  t.equal(queries[0], QUERY, 'the query as configured')
  mode.value = 'error'
  await holding(c, clock, /400 bad_data: invalid parameter/)
  mode.value = 'nan'
  await holding(c, clock, /"NaN"/)
  t.same(
    (await c.api('GET', '/v1/state')).body.analysis.prom_gates.map((g: { verdict: string }) => g.verdict),
    ['none'],
  )

  mode.value = 'fail'
  const paused = await advancing(clock, 'paused by the gate', async () => {
    const { body } = await c.api('GET', '/v1/state')
    return body.rollout?.status === 'paused' ? body : undefined
  })
  t.equal(paused.split.y, 0)
  const events = (await c.api('GET', '/v1/events')).body as Array<Record<string, unknown>>
  const failed = events.find((e) => e.type === 'gate.failed' && e.gate === 'kong_5xx_ratio')
  t.match(failed, { query: QUERY, value: 0.5, threshold: 'max 0.01', action: 'pause' })
  t.match(String(failed?.reason), /kong_5xx_ratio = 0.5 > max 0.01 \(PromQL sum\(rate/)
  t.equal(await metricValue(c, 'cutover_prom_gate_value{gate="kong_5xx_ratio"}'), 0.5)
  t.equal(await metricValue(c, 'cutover_prom_gate_verdict{gate="kong_5xx_ratio"}'), -1)

  mode.value = 'pass'
  t.equal((await c.api('POST', '/v1/rollout/resume')).status, 200)
  const done = await advancing(clock, 'the rollout done', async () => {
    const { body } = await c.api('GET', '/v1/state')
    return body.rollout === null ? body : undefined
  })
  t.equal(done.split.y, 100)
})

t.test('step hooks: a no refuses the start or holds the step with its reason; a yes goes on', async (t) => {
  const answers: Array<[number, string]> = [
    [503, 'staging tests running'],
    [200, ''],
    [500, 'key-auth test failed'],
    [200, ''],
    [200, ''],
  ]
  const calls: Array<Record<string, unknown>> = []
  const hook = await startUpstream('hook', (req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      calls.push(JSON.parse(body))
      const [status, text] = answers.shift() ?? [200, '']
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(text)
    })
  })
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const clock = new FakeClock()
  const c = await startTestCutover({
    x: [x.url],
    y: [y.url],
    start: { clock },
    extra: `analysis:\n  hooks: { before_step: ${hook.url}/before, after_hold: ${hook.url}/after, retry: 200ms, timeout: 2s }\nrollout:\n  steps:\n    - { y: 0, hold: 100ms }\n    - { y: 100 }\n`,
  })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([hook.close(), x.close(), y.close()])
  })
  const refused = await c.api('POST', '/v1/rollout')
  t.equal(refused.status, 409)
  t.equal(refused.body.error, 'rollout not started: before_step hook answered 503: staging tests running')
  const started = await c.api('POST', '/v1/rollout')
  t.equal(started.status, 200, JSON.stringify(started.body))
  const done = await advancing(clock, 'the rollout done', async () => {
    const { body } = await c.api('GET', '/v1/state')
    return body.rollout === null ? body : undefined
  })
  t.equal(done.split.y, 100)
  t.same(
    calls.map((b) => `${b.event} ${b.step} ${b.y}`),
    ['before_step 0 0', 'before_step 0 0', 'after_hold 0 0', 'after_hold 0 0', 'before_step 1 100', 'after_hold 1 100'],
    'after a no the after_hold hook is asked again, then the next step’s before_step; the last step’s after_hold before the rollout is done',
  )
  const events = (await c.api('GET', '/v1/events')).body as Array<Record<string, unknown>>
  t.ok(events.some((e) => e.type === 'rollout.holding' && /after_hold hook answered 500: key-auth test failed/.test(String(e.holding))))
})
