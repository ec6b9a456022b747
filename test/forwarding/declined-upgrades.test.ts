// Upgrades that do not become tunnels: an h2c upgrade (Java's HttpClient and `curl --http2`
// send one on a connection's first request) is served as an ordinary request, and a node
// that declines an upgrade has its answer relayed as an answer, after which the client's
// connection closes. Either way no connection is left pinned to one node, outside the split.
import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import pino from 'pino'
import { FakeClock } from '../../src/clock.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import { close, listen, node, startProxy } from './fixtures.js'
import { waitUntil } from '../helpers/wait.js'

/** A node that answers every request with its name and what it saw; upgrades are declined as `declined` says. */
async function namedNode(name: string, declined = ''): Promise<{ port: number; server: http.Server; seen: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = []
  const upgraded = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    seen.push(req.headers)
    res.end(`${name} ${req.url}`)
  })
  // Node's server hands a request with `Connection: upgrade` to 'upgrade'; declined ones are answered here by hand
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    seen.push(req.headers)
    upgraded.add(socket)
    socket.on('close', () => upgraded.delete(socket))
    socket.on('error', () => undefined)
    socket.on('data', () => seen.push({ after: 'bytes' }))
    socket.write(declined)
  })
  return {
    port: await listen(server),
    server,
    seen,
    // the server's own close waits for the sockets it handed over
    close: () => {
      for (const socket of upgraded) socket.destroy()
      return close(server)
    },
  }
}

/** Send raw bytes on one connection; resolve with everything read until the proxy closes it (or timeoutMs). */
function exchange(port: number, requests: string[], timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text, closed: false })
    }, timeoutMs)
    socket.on('connect', () => socket.write(requests.join('')))
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text, closed: true })
    })
  })
}

const H2C = 'GET /first HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n'

t.test('an h2c upgrade is answered in HTTP/1.1 and routed like any request; the next one on its connection follows the split', async (t) => {
  const x = await namedNode('x')
  const y = await namedNode('y')
  const nx = node('x', x.port)
  const ny = node('y', y.port)
  const p = await startProxy({ x: [nx], y: [ny] })
  t.teardown(async () => {
    await p.close()
    await Promise.all([x.close(), y.close()])
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let text = ''
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
  socket.write(H2C)
  await waitUntil('the first answer', () => text.endsWith('x /first'), 3000)
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/, 'answered in HTTP/1.1, no 101')
  t.notMatch(text, /\r\nconnection: close\r\n/i, 'the connection stays open')
  t.equal(x.seen.length, 1)
  t.equal(x.seen[0].upgrade, undefined, 'the node never sees the Upgrade')
  t.equal(x.seen[0]['http2-settings'], undefined, 'nor HTTP2-Settings')
  t.equal(x.seen[0]['x-forwarded-for'], '127.0.0.1', 'rewritten as any request')

  // the split moves to y: the same client connection's next request goes there
  p.router.table = buildRoutingTable(100, { x: [nx], y: [ny] }, () => true, { y: 0 })
  text = ''
  socket.write('GET /second HTTP/1.1\r\nHost: kong.test\r\n\r\n')
  await waitUntil('the second answer', () => text.endsWith('y /second'), 3000)
  t.equal(y.seen.length, 1, 'routed afresh, not tunnelled to x')
  t.equal(x.seen.length, 1)
  await p.sink.waitFinished(2)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'finished'),
    [
      ['finished', 'x', 200],
      ['finished', 'y', 200],
    ],
    'both counted, each in its pool',
  )
})

const WS = 'GET /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
const NEXT = 'GET /next HTTP/1.1\r\nHost: kong.test\r\n\r\n'

for (const [label, answer, body] of [
  ['Content-Length', 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\nX-Kong: 1\r\n\r\nunauthorized', 'unauthorized'],
  ['chunked', 'HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\nX-Kong: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n'],
  ['no body', 'HTTP/1.1 204 No Content\r\nX-Kong: 1\r\n\r\n', ''],
] as const) {
  t.test(`a declined upgrade (${label}) is relayed as an answer, then the connection closes; nothing more reaches the node`, async (t) => {
    const n = await namedNode('x', answer)
    const p = await startProxy({ x: [node('x', n.port)] })
    t.teardown(async () => {
      await p.close()
      await n.close()
    })
    // the client sends a second request right behind the upgrade, on the same connection
    const { text, closed } = await exchange(p.port, [WS, NEXT])
    t.ok(closed, 'cutover closed the connection after the answer')
    const [head, rest] = [text.slice(0, text.indexOf('\r\n\r\n') + 4), text.slice(text.indexOf('\r\n\r\n') + 4)]
    t.match(head, new RegExp(`^${answer.slice(0, answer.indexOf('\r\n'))}\\r\\n`), 'the status line as the node wrote it')
    t.match(head, /\r\nX-Kong: 1\r\n/, 'its own fields kept')
    t.match(head, /\r\nConnection: close\r\n/, 'the connection ends with it')
    t.notMatch(head, /Keep-Alive/i, 'hop-by-hop fields dropped')
    t.equal(rest, body, 'the body whole, and nothing after it')
    t.equal(n.seen.length, 1, 'the node saw the upgrade request alone')
    t.notOk(
      n.seen.some((h) => h.after !== undefined),
      'the bytes sent after it never reached the node',
    )
    await p.sink.waitFinished(1)
    t.same(
      p.sink.calls.filter((c) => c[0] === 'finished'),
      [['finished', 'x', Number(answer.slice(9, 12))]],
    )
  })
}

/** A declined upgrade whose node then ends its connection after 50 ms (end: a FIN; destroy: a cut; resetAndDestroy: a reset); what the client read. */
async function declinedThenClosed(t: Test, answer: string, how: 'end' | 'destroy' | 'resetAndDestroy'): Promise<{ text: string; closed: boolean }> {
  const n = await namedNode('x', answer)
  n.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => setTimeout(() => socket[how](), 50))
  const p = await startProxy({ x: [node('x', n.port)] })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  return exchange(p.port, [WS])
}

t.test('a declined upgrade whose answer ends when the node closes: relayed to its end, chunked', async (t) => {
  const { text, closed } = await declinedThenClosed(t, 'HTTP/1.1 403 Forbidden\r\nX-Kong: 1\r\n\r\nnot here', 'end')
  t.ok(closed)
  t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/)
  t.match(text, /\r\nConnection: close\r\n/)
  t.match(text, /\r\nTransfer-Encoding: chunked\r\n/)
  t.ok(text.endsWith('\r\n\r\n8\r\nnot here\r\n0\r\n\r\n'), 'the body up to the node closing, and its end')
})

t.test('a declined upgrade whose answer ends when the node closes, cut by a reset, reads as cut, not as whole', async (t) => {
  const { text, closed } = await declinedThenClosed(t, 'HTTP/1.1 403 Forbidden\r\nX-Kong: 1\r\n\r\nnot here', 'resetAndDestroy')
  t.ok(closed)
  t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/)
  // relayed as it came, the close after the reset would read as the body's end
  t.match(text, /\r\nTransfer-Encoding: chunked\r\n/, 'relayed chunked')
  t.ok(text.endsWith('\r\n\r\n8\r\nnot here\r\n'), 'what came, and no last chunk: the client sees it cut')
})

t.test('a declined upgrade cut short looks cut short', async (t) => {
  const { text, closed } = await declinedThenClosed(t, 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\nonly part', 'destroy')
  t.ok(closed)
  t.match(text, /^HTTP\/1\.1 401 Unauthorized\r\n/)
  t.ok(text.endsWith('only part'), 'what came, and the connection cut: the client sees 9 of 100 bytes')
})

/** A logger whose lines are kept, parsed. */
function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), lines }
}

for (const [label, answer, body] of [
  ['Content-Length', 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\n0123456789', '0123456789'],
  ['chunked', 'HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', '5\r\nhello\r\n'],
  // relayed chunked, without the last chunk: cut
  ['until the node closes', 'HTTP/1.1 403 Forbidden\r\n\r\nnot here', '8\r\nnot here\r\n'],
] as const) {
  t.test(`a declined upgrade whose answer stops moving (${label}) is cut after idle_timeout; the log says why`, async (t) => {
    const n = await namedNode('x', answer)
    const { logger, lines } = capture()
    const nx = node('x', n.port)
    const p = await startProxy({ x: [nx], proxy: { idle_timeout: 300 }, logger })
    t.teardown(async () => {
      await p.close()
      await n.close()
    })
    const { text, closed } = await exchange(p.port, [WS])
    t.ok(closed, 'cut, not held open')
    t.ok(text.endsWith(`\r\n\r\n${body}`), 'what came of the answer, and no more')
    t.same(
      p.sink.calls.filter((c) => c[0] === 'attemptFailed'),
      [['attemptFailed', nx.name, 'timeout']],
      "the node's failure",
    )
    t.equal(nx.inflight, 0, 'the attempt is over')
    const failed = lines.filter((l) => l.msg === 'upstream attempt failed')
    t.equal(failed.length, 1)
    t.match(failed[0], { node: nx.name, kind: 'timeout', why: 'the body of the answer to the upgrade stood still for idle_timeout', outcome: 'cut' })
  })
}

t.test("a client that takes nothing of a declined upgrade's answer is cut after idle_timeout; the node is not blamed", async (t) => {
  let nodeClosed = false
  const sockets: net.Socket[] = []
  const big = net.createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => (nodeClosed = true))
    socket.once('data', () => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 33554432\r\n\r\n')
      socket.write(Buffer.alloc(32 * 1024 * 1024, 'u'))
    })
  })
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
  const { logger, lines } = capture()
  const nx = node('x', (big.address() as net.AddressInfo).port)
  const p = await startProxy({ x: [nx], proxy: { idle_timeout: 300 }, logger })
  t.teardown(async () => {
    await p.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => big.close(resolve))
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => undefined)
  // never reads
  socket.pause()
  socket.write(WS)
  await waitUntil('the node connection closed', () => nodeClosed, 5000)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'attemptFailed'),
    [],
    'no failure of the node',
  )
  t.same(
    lines.filter((l) => l.msg === 'upstream attempt failed'),
    [],
    'none in the log',
  )
  let closed = false
  socket.on('close', () => (closed = true))
  socket.resume()
  await waitUntil('the client connection closed', () => closed, 3000)
})

t.test("a client that takes a declined upgrade's answer slowly is not cut while its backlog shrinks", async (t) => {
  const sockets: net.Socket[] = []
  const big = net.createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => undefined)
    socket.once('data', () => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 33554432\r\n\r\n')
      socket.write(Buffer.alloc(32 * 1024 * 1024, 'u'))
    })
  })
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
  const nx = node('x', (big.address() as net.AddressInfo).port)
  const clock = new FakeClock()
  const p = await startProxy({ x: [nx], clock, proxy: { idle_timeout: 300 } })
  t.teardown(async () => {
    await p.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => big.close(resolve))
  })
  const socket = net.connect(p.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.on('error', () => undefined)
  socket.pause() // reads nothing: the kernel's buffers fill, then cutover's queue
  socket.write(WS)
  const conn = await waitUntil(
    "cutover's queue to the client stands still",
    async () => {
      const c = [...p.server.connections][0]
      if (c === undefined || c.unsent() === 0) return undefined
      const before = c.unsent()
      await new Promise((r) => setTimeout(r, 20))
      return c.unsent() === before ? c : undefined
    },
    5000,
  )
  // the kernel taking a slow reader's backlog a window at a time, as on a real network (see
  // idle-timeout.test.ts): the backlog as cutover sees it, less what was taken since
  const queued = conn.unsent.bind(conn)
  let taken = 0
  conn.unsent = () => queued() - taken
  for (let look = 1; look <= 3; look++) {
    taken += 4096
    clock.advance(301)
    t.notOk(conn.socket.destroyed, `idle_timeout ${look}: 4 KiB more of the backlog went, the client is not cut`)
  }
  clock.advance(301)
  t.ok(conn.socket.destroyed, 'an idle_timeout in which nothing went: cut')
  t.same(
    p.sink.calls.filter((c) => c[0] === 'attemptFailed'),
    [],
    'no failure of the node',
  )
})
