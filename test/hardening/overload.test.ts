// Overload (issue 7, point 5): shedding at proxy.max_inflight, and the control API
// answering while the proxy port is saturated.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { close, listen, node, startProxy } from '../forwarding/fixtures.js'
import { startTestCutover } from '../helpers/cutover.js'
import { delay, rawExchange } from './raw.js'

/** An upstream that holds every response until release(). */
async function holdingUpstream(): Promise<{ port: number; held: () => number; release(): void; server: http.Server }> {
  const waiting: http.ServerResponse[] = []
  let released = false
  const server = http.createServer((req, res) => {
    req.resume()
    if (released) res.end('late')
    else waiting.push(res)
  })
  const port = await listen(server)
  return {
    port,
    server,
    held: () => waiting.length,
    release() {
      released = true
      for (const res of waiting.splice(0)) res.end('done')
    },
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await delay(10)
  return cond()
}

t.test('at max_inflight a request is shed at once: 503, Retry-After, close, no node', async (t) => {
  const up = await holdingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_inflight: 5 } })
  let shed = 0
  ;(p.forwarder as { onShed?: () => void }).onShed = () => shed++
  t.teardown(async () => {
    up.release()
    await p.close()
    await close(up.server)
  })
  const held = Array.from({ length: 5 }, (_, i) => fetch(`http://127.0.0.1:${p.port}/held${i}`).then((r) => r.text()))
  t.ok(await until(() => up.held() === 5, 2000), 'five requests held by the node')
  t.equal(p.forwarder.inflight, 5)
  const start = Date.now()
  const answer = await rawExchange(p.port, 'GET /sixth HTTP/1.1\r\nHost: a\r\n\r\n', 2000)
  t.ok(Date.now() - start < 500, 'answered at once')
  t.equal(answer.status, 503)
  t.match(answer.text, /\r\nretry-after: 1\r\n/i)
  t.match(answer.text, /\r\nconnection: close\r\n/i)
  t.same(JSON.parse(answer.text.split('\r\n\r\n')[1]), { message: 'cutover is overloaded' })
  t.ok(answer.closed, 'the connection is closed')
  t.equal(up.held(), 5, 'the node never saw it')
  t.equal(shed, 1, 'onShed counted it')
  t.notOk(
    p.sink.calls.some((c) => c[0] === 'finished' && c[2] === 503),
    'not reported to the pools (the gate must not blame y)',
  )
  up.release()
  t.same(await Promise.all(held), ['done', 'done', 'done', 'done', 'done'])
  t.ok(await until(() => p.forwarder.inflight === 0, 1000), 'the count falls back to 0')
  const after = await fetch(`http://127.0.0.1:${p.port}/after`)
  t.equal(after.status, 200, 'served again once below the limit')
  await after.text()
})

t.test('the in-flight count never leaks: client aborts, pipelined requests, failures', async (t) => {
  const up = await holdingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_inflight: 100 } })
  t.teardown(async () => {
    up.release()
    await p.close()
    await close(up.server)
  })
  // clients that go away while their request is held, one of them with three pipelined
  const sockets: net.Socket[] = []
  for (let i = 0; i < 5; i++) {
    const s = net.connect(p.port, '127.0.0.1')
    s.on('error', () => undefined)
    s.write(i === 0 ? 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n' : `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`)
    sockets.push(s)
  }
  // pipelined requests are served one after another (as nginx does): one in flight per connection
  t.ok(await until(() => p.forwarder.inflight === 5 && up.held() === 5, 2000), `5 requests in flight (${p.forwarder.inflight})`)
  for (const s of sockets) s.destroy()
  t.ok(await until(() => p.forwarder.inflight === 0, 2000), `back to 0 after the clients left (${p.forwarder.inflight})`)
})

t.test('the control API answers within a second while 2000 slow requests saturate the proxy', async (t) => {
  const up = await holdingUpstream()
  const c = await startTestCutover({ x: [`http://127.0.0.1:${up.port}`], y: [], proxy: '  max_inflight: 1000\n  request_timeout: 30s' })
  const sockets: net.Socket[] = []
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    up.release()
    await c.cutover.close()
    await close(up.server)
  })
  const port = c.cutover.proxyAddress.port
  let answers = 0
  let shed = 0
  for (let i = 0; i < 2000; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => undefined)
    s.once('data', (d) => {
      answers++
      if (d.toString('latin1').startsWith('HTTP/1.1 503')) shed++
    })
    s.write(`GET /slow${i} HTTP/1.1\r\nHost: a\r\n\r\n`)
    sockets.push(s)
    // let the loop breathe so connects are not refused by the listen backlog
    if (i % 200 === 199) await delay(20)
  }
  // in flight: 1000, of which the node holds 64 (proxy.upstream_max_connections) and 936 wait for a connection
  t.ok(await until(() => up.held() === 64 && answers === 1000, 10000), `64 held by the node (${up.held()}), 1000 shed (${answers} answers)`)
  t.equal(shed, answers, 'every early answer is a shed 503')

  let start = Date.now()
  const state = await c.api('GET', '/v1/state')
  const stateMs = Date.now() - start
  t.equal(state.status, 200)
  // a hang guard, not a speed test (speed is bench/'s): the answer must come while the load is held
  t.ok(stateMs < 10_000, `GET /v1/state answered under load, in ${stateMs} ms`)

  start = Date.now()
  const rollback = await c.api('POST', '/v1/rollback', { reason: 'under load' })
  const rollbackMs = Date.now() - start
  t.equal(rollback.status, 200)
  t.ok(rollbackMs < 10_000, `POST /v1/rollback answered under load, in ${rollbackMs} ms`)
  t.equal((await c.api('GET', '/v1/state')).body.locked, true)

  const metrics = await (await fetch(`${c.controlUrl}/metrics`)).text()
  t.match(metrics, /^cutover_requests_in_flight\{pool="x"\} 1000$/m, 'the metrics see the load')
})
