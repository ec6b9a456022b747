// The limits of issue 7, point 2, each against a real proxy and raw client sockets.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { close, listen, node, startProxy } from '../forwarding/fixtures.js'
import { delay, rawExchange, recordingUpstream } from './raw.js'

/** Wait until cond() or ms pass (real sockets only); returns cond(). */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await delay(10)
  return cond()
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
}

/** ms from now until socket closes (or capMs). */
function closesWithin(socket: net.Socket, capMs: number): Promise<number> {
  const start = Date.now()
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(Infinity), capMs)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Date.now() - start)
    })
  })
}

t.test('a head over max_header_size: 431, closed, nothing upstream', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_header_size: 2048 } })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const refused: string[] = []
  ;(p.forwarder as { onRefused?: (r: string) => void }).onRefused = (r) => refused.push(r)
  const small = await rawExchange(p.port, `GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Pad: ${'a'.repeat(1500)}\r\n\r\n`)
  t.equal(small.status, 200, 'under the limit passes')
  up.seen.length = 0
  const big = await rawExchange(p.port, `GET /big HTTP/1.1\r\nHost: a\r\nX-Pad: ${'a'.repeat(3000)}\r\n\r\n`)
  t.equal(big.status, 431)
  t.ok(big.closed)
  t.type(JSON.parse(big.text.split('\r\n\r\n')[1]).message, 'string', 'JSON {message}')
  t.same(up.seen, [])
  t.same(refused, ['head_too_large'], 'reported to onRefused')
})

t.test('header_timeout cuts a slowloris client off', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { header_timeout: 300 } })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  // one byte every 50 ms: the socket is never idle, the head never ends
  const slow = await connect(p.port)
  const got: Buffer[] = []
  slow.on('data', (d) => got.push(d))
  slow.on('error', () => undefined)
  const head = 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'a'.repeat(200)
  let i = 0
  const drip = setInterval(() => {
    if (!slow.destroyed) slow.write(head[i++ % head.length])
  }, 50)
  // silent: connects, never sends a byte. It reads what it is sent: a paused socket that
  // holds unread bytes never sees the server's FIN, so never emits 'close'.
  const silent = await connect(p.port)
  silent.on('error', () => undefined)
  const silentGot: Buffer[] = []
  silent.on('data', (d) => silentGot.push(d))
  const [slowMs, silentMs] = await Promise.all([closesWithin(slow, 3000), closesWithin(silent, 3000)])
  clearInterval(drip)
  // 300 ms plus Node's check interval (75 ms here) plus scheduling slack on a busy machine
  t.ok(slowMs < 1500, `the dripping client is cut off after ${slowMs} ms (limit 300 ms, tolerance 1500 ms)`)
  t.ok(silentMs < 1500, `the silent client is cut off after ${silentMs} ms (tolerance 1500 ms)`)
  t.match(Buffer.concat(got).toString('latin1'), /^HTTP\/1\.1 408 /, 'the dripping client got 408')
  t.equal(Buffer.concat(silentGot).length, 0, 'the silent client is closed without an answer, as nginx does')
  t.same(up.seen, [])
})

t.test('keepalive_timeout closes an idle client connection', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { keepalive_timeout: 200 } })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const s = await connect(p.port)
  s.on('error', () => undefined)
  let text = ''
  s.on('data', (d) => (text += d.toString('latin1')))
  s.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  t.ok(await until(() => text.includes('\r\n\r\nok'), 2000), 'answered')
  const ms = await closesWithin(s, 3000)
  // Node 20 adds a fixed 1 s to keepAliveTimeout before it closes
  t.ok(ms >= 100 && ms < 2500, `idle connection closed after ${ms} ms (keepalive 200 ms + Node's 1 s, tolerance 100..2500)`)
})

t.test('max_connections: a connection beyond it is closed without an answer', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_connections: 2 } })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const a = await connect(p.port)
  const b = await connect(p.port)
  a.on('error', () => undefined)
  b.on('error', () => undefined)
  await delay(30)
  const third = await rawExchange(p.port, 'GET /third HTTP/1.1\r\nHost: a\r\n\r\n', 1000)
  t.equal(third.status, 0, 'no answer')
  t.ok(third.closed, 'closed by cutover')
  t.same(up.seen, [], 'nothing upstream')
  a.destroy()
  await delay(50)
  const again = await rawExchange(p.port, 'GET /again HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 1000)
  t.equal(again.status, 200, 'a slot freed by a closed connection is usable')
  b.destroy()
})

t.test('max_body_size: 413 by length before any node, by counting for chunked', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_body_size: 100 } })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const byLength = await rawExchange(p.port, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n${'a'.repeat(101)}`)
  t.equal(byLength.status, 413)
  t.ok(byLength.closed)
  t.same(up.seen, [], 'a declared length over the limit never reaches a node')
  const chunk = (n: number) => `${n.toString(16)}\r\n${'b'.repeat(n)}\r\n`
  const chunked = await rawExchange(p.port, [`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(60)}`, chunk(60) + '0\r\n\r\n'])
  t.equal(chunked.status, 413)
  t.ok(chunked.closed)
  await delay(30)
  t.notOk(
    up.seen.some((s) => s.complete),
    'the node never got a whole over-size body',
  )
})

t.test('aborts travel both ways', async (t) => {
  t.test('the client going away mid-upload aborts the upstream request', async (t) => {
    let upstreamAborted = false
    let received = 0
    const server = http.createServer((req) => {
      req.on('data', (c: Buffer) => (received += c.length))
      req.on('close', () => (upstreamAborted = !req.complete))
    })
    const port = await listen(server)
    const p = await startProxy({ x: [node('x', port)] })
    t.teardown(async () => {
      await p.close()
      await close(server)
    })
    const s = await connect(p.port)
    s.on('error', () => undefined)
    s.write(`POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${'c'.repeat(1000)}`)
    t.ok(await until(() => received > 0, 2000), 'the node got the start of the body')
    s.destroy()
    t.ok(await until(() => upstreamAborted, 2000), 'the upstream request was aborted')
    t.ok(await until(() => p.sink.calls.some((c) => c[0] === 'finished' && c[2] === 499), 1000), 'reported as 499')
  })

  t.test('the client going away while the node thinks aborts the upstream request', async (t) => {
    let upstreamClosed = false
    const server = http.createServer((_req, res) => {
      res.on('close', () => (upstreamClosed = !res.writableFinished))
    })
    const port = await listen(server)
    const p = await startProxy({ x: [node('x', port)] })
    t.teardown(async () => {
      await p.close()
      await close(server)
    })
    const s = await connect(p.port)
    s.on('error', () => undefined)
    s.write('GET /think HTTP/1.1\r\nHost: a\r\n\r\n')
    await delay(100)
    s.destroy()
    t.ok(await until(() => upstreamClosed, 2000), 'the upstream connection was closed before it answered')
  })

  t.test('the node going away mid-upload ends the client request with 502 and close', async (t) => {
    const server = http.createServer((req) => {
      req.once('data', () => req.socket.destroy())
    })
    const port = await listen(server)
    const p = await startProxy({ x: [node('x', port)] })
    t.teardown(async () => {
      await p.close()
      await close(server)
    })
    const s = await connect(p.port)
    s.on('error', () => undefined)
    let text = ''
    s.on('data', (d) => (text += d.toString('latin1')))
    const closed = closesWithin(s, 3000)
    s.write(`POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${'c'.repeat(1000)}`)
    const ms = await closed
    t.ok(ms < 3000, 'the client connection is closed')
    t.match(text, /^HTTP\/1\.1 502 /, '502')
  })
})
