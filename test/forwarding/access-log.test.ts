import net from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { request } from 'undici'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { openTunnel, wsNode } from '../helpers/ws-node.js'

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

t.test('upgrades are in the access log too: the 101, and an answer declining one', async (t) => {
  const ws = await wsNode('x1')
  t.teardown(() => ws.close())
  const { logger, lines } = capture()
  const c = await startTestCutover({ x: [ws.url], y: [], log: '{ level: info, access: true, access_sample: 1 }', start: { logger } })
  t.teardown(() => c.cutover.close())
  const tunnel = await openTunnel(c.proxyUrl)
  tunnel.socket.destroy()
  // the node's ordinary server answers an upgrade it does not switch: a GET without one
  const declined = await startUpstream('y1')
  t.teardown(() => declined.close())
  const d = await startTestCutover({ x: [declined.url], y: [], log: '{ level: info, access: true, access_sample: 1 }', start: { logger } })
  t.teardown(() => d.cutover.close())
  const socket = net.connect(Number(new URL(d.proxyUrl).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => undefined)
  socket.write('GET /chat HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  await waitUntil('two access lines', () => lines.filter((l) => l.access === true).length === 2, 3000)
  const access = lines.filter((l) => l.access === true)
  t.match(access[0], { msg: 'access', method: 'GET', pool: 'x', node: ws.url.replace('http://', ''), status: 101, attempts: 1 })
  t.match(access[1], { msg: 'access', method: 'GET', path: '/chat', host: 'api.example.com', pool: 'x', node: declined.url.replace('http://', '') })
  t.not(access[1].status, 101)
})
