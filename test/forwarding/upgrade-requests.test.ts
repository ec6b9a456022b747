// An upgrade request is a request: its body is held to max_body_size, its Expect:
// 100-continue is answered by cutover as an ordinary request's is, and the interim (1xx)
// answers before its node's final one reach the client rewritten as an ordinary request's.
import t, { type Test } from 'tap'
import net from 'node:net'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { node, startProxy } from './fixtures.js'

const WS_HEAD = 'POST /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'

/** A client connection that keeps what it reads. */
async function connect(t: Test, port: number): Promise<{ socket: net.Socket; text(): string; closed(): boolean }> {
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let text = ''
  let closed = false
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
  socket.on('error', () => undefined)
  socket.on('close', () => (closed = true))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return { socket, text: () => text, closed: () => closed }
}

t.test('an upgrade request whose Content-Length is over max_body_size is answered 413 and closed, before any node is contacted', async (t) => {
  let connections = 0
  const raw = await startRawServer((s) => {
    connections++
    s.write(SWITCH)
  })
  const p = await startProxy({ x: [node('x', raw.port)], proxy: { max_body_size: 10 } })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const c = await connect(t, p.port)
  c.socket.write(`${WS_HEAD}Content-Length: 11\r\n\r\nhello world`)
  await waitUntil('the connection closes', () => c.closed(), 3000)
  t.match(c.text(), /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  t.match(c.text(), /\r\nConnection: close\r\n/i)
  t.notMatch(c.text(), /101/)
  t.equal(connections, 0, 'no node was contacted')
  t.same(p.sink.calls, [['finished', 'x', 413]], 'as an ordinary request over the limit: no attempt')
})

t.test('an upgrade request whose chunked body grows over max_body_size is answered 413 and closed; its node never gets a whole body', async (t) => {
  let got = ''
  let nodeClosed = false
  const raw = await startRawServer((s) => {
    s.on('data', (d: Buffer) => (got += d.toString('latin1')))
    s.on('close', () => (nodeClosed = true))
  })
  const nx = node('x', raw.port)
  const p = await startProxy({ x: [nx], proxy: { max_body_size: 10 } })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const c = await connect(t, p.port)
  c.socket.write(`${WS_HEAD}Transfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n`)
  await waitUntil('the node has the first chunk', () => got.endsWith('hello \r\n'), 3000)
  c.socket.write('5\r\nworld\r\n0\r\n\r\n')
  await waitUntil('the connection closes', () => c.closed(), 3000)
  t.match(c.text(), /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  t.notMatch(c.text(), /101/)
  await waitUntil("the node's connection is closed", () => nodeClosed, 3000)
  t.notMatch(got, /world|0\r\n\r\n$/, 'nothing over the limit, nor a last chunk, reached the node')
  t.same(
    p.sink.calls,
    [
      ['attemptStarted', nx.name],
      ['attemptEnded', nx.name],
      ['finished', 'x', 413],
    ],
    "as an ordinary request's: the attempt ends, the node is not blamed",
  )
})

t.test('a chunked body over max_body_size in one read with the request head: 413, and the node never gets a byte of it', async (t) => {
  let got = ''
  const raw = await startRawServer((s) => s.on('data', (d: Buffer) => (got += d.toString('latin1'))))
  const p = await startProxy({ x: [node('x', raw.port)], proxy: { max_body_size: 10 } })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const c = await connect(t, p.port)
  c.socket.write(`${WS_HEAD}Transfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n`)
  await waitUntil('the connection closes', () => c.closed(), 3000)
  t.match(c.text(), /^HTTP\/1\.1 413 Payload Too Large\r\n/)
  await p.sink.waitFinished(1)
  t.same(
    p.sink.calls.filter((s) => s[0] === 'finished'),
    [['finished', 'x', 413]],
  )
  t.notMatch(got, /hello/, 'no byte of the body reached the node')
})

t.test('an upgrade request within max_body_size still switches', async (t) => {
  const raw = await startRawServer((s) => {
    let got = ''
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      if (got.endsWith('\r\n\r\n0123456789')) s.write(SWITCH)
    })
  })
  const p = await startProxy({ x: [node('x', raw.port)], proxy: { max_body_size: 10 } })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const c = await connect(t, p.port)
  c.socket.write(`${WS_HEAD}Content-Length: 10\r\n\r\n0123456789`)
  await waitUntil('the 101', () => c.text() === SWITCH, 3000)
  t.pass()
})

t.test('Expect: 100-continue on an upgrade request with a body: cutover answers 100 once the node is there, and only once', async (t) => {
  for (const nodeSends100 of [false, true]) {
    let head = ''
    const raw = await startRawServer((s) => {
      let got = ''
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1')
        const end = got.indexOf('\r\n\r\n')
        if (end < 0) return
        if (head === '') {
          head = got.slice(0, end)
          if (nodeSends100) s.write('HTTP/1.1 100 Continue\r\n\r\n')
        }
        if (got.length === end + 4 + 5) s.write(SWITCH)
      })
    })
    const p = await startProxy({ x: [node('x', raw.port)] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const c = await connect(t, p.port)
    c.socket.write(`${WS_HEAD}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`)
    // a client waits for the 100 before it sends its body (curl: 1 s, then it sends anyway)
    await waitUntil('the 100', () => c.text().includes('\r\n\r\n'), 900)
    t.equal(c.text(), 'HTTP/1.1 100 Continue\r\n\r\n', `the 100 (the node sends one too: ${nodeSends100})`)
    t.notMatch(head, /expect/i, 'the Expect stays with cutover, as an ordinary request’s')
    c.socket.write('hello')
    await waitUntil('the 101', () => c.text().endsWith(SWITCH), 3000)
    t.equal(c.text(), `HTTP/1.1 100 Continue\r\n\r\n${SWITCH}`, 'one 100, then the switch')
  }
})

t.test("the interim answers before an upgrade's final one reach the client without their hop-by-hop fields", async (t) => {
  for (const final of [SWITCH, 'HTTP/1.1 426 Upgrade Required\r\nContent-Length: 8\r\nKeep-Alive: timeout=5\r\n\r\ndeclined']) {
    const raw = await startRawServer((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n')
        s.write(`HTTP/1.1 100 Continue\r\nProxy-Connection: keep-alive\r\n\r\n${final}`)
      })
    })
    const p = await startProxy({ x: [node('x', raw.port)] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const c = await connect(t, p.port)
    c.socket.write(`${WS_HEAD.replace('POST', 'GET')}\r\n`)
    const status = final.slice(9, 12)
    await waitUntil(`the ${status}`, () => c.text().includes(`HTTP/1.1 ${status} `) && c.text().endsWith(final.slice(final.lastIndexOf('\r\n\r\n') + 4)), 3000)
    const text = c.text()
    const early = text.slice(0, text.indexOf(`HTTP/1.1 ${status} `))
    t.equal(early, 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n', `both interim answers, rewritten (before a ${status})`)
  }
})

/** A raw node that switches as soon as it has the request's head, and keeps what comes after it. */
async function earlySwitch(t: Test): Promise<{ port: number; after(): string; closed(): boolean }> {
  let got = ''
  let closed = false
  const raw = await startRawServer((s) => {
    s.on('data', (d: Buffer) => {
      const switching = !got.includes('\r\n\r\n')
      got += d.toString('latin1')
      if (switching && got.includes('\r\n\r\n')) s.write(SWITCH)
    })
    s.on('close', () => (closed = true))
  })
  t.teardown(() => raw.close())
  return { port: raw.port, after: () => got.slice(got.indexOf('\r\n\r\n') + 4), closed: () => closed }
}

for (const [label, over, refused] of [
  ['grows over max_body_size', '6\r\nworld!\r\n0\r\n\r\n', 'world'],
  ['breaks its framing', 'zz\r\nworld!\r\n0\r\n\r\n', 'zz'],
] as const) {
  t.test(`a chunked body that ${label} after an early 101 is still the request's: both sides are cut, none of it goes on`, async (t) => {
    const n = await earlySwitch(t)
    const nx = node('x', n.port)
    const p = await startProxy({ x: [nx], proxy: { max_body_size: 10 } })
    t.teardown(() => p.close())
    const c = await connect(t, p.port)
    c.socket.write(`${WS_HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`)
    await waitUntil('the 101', () => c.text() === SWITCH, 3000)
    await waitUntil('the node has the first chunk', () => n.after() === '5\r\nhello\r\n', 3000)
    c.socket.write(over)
    await waitUntil('the client connection is cut', () => c.closed(), 3000)
    await waitUntil("the node's connection is cut", () => n.closed(), 3000)
    t.equal(c.text(), SWITCH, 'the client had the 101 and nothing after it')
    t.notMatch(n.after(), refused, 'nothing of the read that broke the body reached the node')
    t.same(
      p.sink.calls,
      [
        ['attemptStarted', nx.name],
        ['answered', nx.name, 101],
        ['finished', 'x', 101],
        ['attemptEnded', nx.name],
      ],
      'the upgrade was counted at its 101; the node is not blamed',
    )
  })
}

t.test("after an early 101, the bytes behind the request's last chunk are the tunnel's: not held to max_body_size", async (t) => {
  const n = await earlySwitch(t)
  const p = await startProxy({ x: [node('x', n.port)], proxy: { max_body_size: 10 } })
  t.teardown(() => p.close())
  const c = await connect(t, p.port)
  c.socket.write(`${WS_HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`)
  await waitUntil('the 101', () => c.text() === SWITCH, 3000)
  const tunnel = 'x'.repeat(1000)
  c.socket.write(`5\r\nworld\r\n0\r\n\r\n${tunnel}`)
  c.socket.write(tunnel)
  await waitUntil('the node has the body and the tunnel bytes', () => n.after() === `5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n${tunnel}${tunnel}`, 3000)
  t.notOk(c.closed(), 'the tunnel is open')
})
