import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { request } from 'undici'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

async function traffic(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(`${url}/orders/${i}?page=2`, { headers: { host: 'api.example.com' } })
    await res.body.text()
  }
}

t.test('access log on with sample 1: one line per request with its figures', async (t) => {
  const x = await startUpstream('x1')
  t.teardown(() => x.close())
  const { logger, lines } = capture()
  const c = await startTestCutover({ x: [x.url], y: [], log: '{ level: info, access: true, access_sample: 1 }', start: { logger } })
  t.teardown(() => c.cutover.close())
  await traffic(c.proxyUrl, 5)
  const access = lines.filter((l) => l.access === true)
  t.equal(access.length, 5)
  t.match(access[0], { msg: 'access', method: 'GET', path: '/orders/0?page=2', host: 'api.example.com', pool: 'x', node: x.url.replace('http://', ''), status: 200, attempts: 1 })
  t.type(access[0].ms, 'number')
})

t.test('access log sampled, and off by default', async (t) => {
  const x = await startUpstream('x1')
  t.teardown(() => x.close())
  const sampled = capture()
  const c = await startTestCutover({
    x: [x.url],
    y: [],
    log: '{ level: info, access: true, access_sample: 0.2 }',
    start: {
      logger: sampled.logger,
      random: (() => {
        let i = 0
        return () => (i++ % 10) / 10
      })(),
    },
  })
  await traffic(c.proxyUrl, 20)
  await c.cutover.close()
  const n = sampled.lines.filter((l) => l.access === true).length
  t.ok(n > 0 && n < 20, `some but not all of 20 requests logged at 0.2: ${n}`)

  const off = capture()
  const d = await startTestCutover({ x: [x.url], y: [], log: '{ level: info }', start: { logger: off.logger } })
  await traffic(d.proxyUrl, 10)
  await d.cutover.close()
  t.equal(off.lines.filter((l) => l.access === true).length, 0, 'nothing per request at info by default')
})
