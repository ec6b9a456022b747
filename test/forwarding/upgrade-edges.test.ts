// The edges of an upgrade a hostile client or node can reach: an Upgrade in an HTTP/1.0
// request (ignored, RFC 9110 7.8), a 101 to a request that could not ask for one, and bytes
// a client sends behind an upgrade request before the node has switched.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { close, listen, node, startProxy } from './fixtures.js'

/** Send raw bytes on one connection; resolve with everything read until the proxy closes it (or timeoutMs). */
function exchange(port: number, bytes: string, timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text, closed: false })
    }, timeoutMs)
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text, closed: true })
    })
  })
}

/**
 * A node:http node that records each request (url, version, headers) and answers `url`;
 * one with an 'upgrade' listener switches every upgrade it is handed (101, then an echo).
 */
async function recordingNode(switches: boolean): Promise<{ port: number; seen: { url: string; version: string; headers: http.IncomingHttpHeaders }[]; close(): Promise<void> }> {
  const seen: { url: string; version: string; headers: http.IncomingHttpHeaders }[] = []
  const upgraded = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', version: req.httpVersion, headers: req.headers })
    // without an 'upgrade' listener node:http hands an upgrade request here: declined
    if (req.headers.upgrade !== undefined) res.writeHead(426, { 'content-length': 8 }).end('declined')
    else res.end(req.url)
  })
  if (switches) {
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      seen.push({ url: req.url ?? '', version: req.httpVersion, headers: req.headers })
      upgraded.add(socket)
      socket.on('error', () => undefined)
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
      socket.write(head)
      socket.pipe(socket)
    })
  }
  return {
    port: await listen(server),
    seen,
    close: () => {
      for (const socket of upgraded) socket.destroy()
      return close(server)
    },
  }
}

t.test('an Upgrade in an HTTP/1.0 request is ignored: relayed as an ordinary request, without it, answered as HTTP/1.0', async (t) => {
  const n = await recordingNode(true)
  const p = await startProxy({ x: [node('x', n.port)] })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const { text, closed } = await exchange(
    p.port,
    'GET /a HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\nGET /b HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  )
  t.ok(closed, 'the connection closes after the second answer (HTTP/1.0 without keep-alive)')
  t.notMatch(text, /101/, 'no switch')
  const answers = text.split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2, 'two answers')
  t.match(answers[0], /^HTTP\/1\.1 200 OK\r\n/)
  t.match(answers[0], /\r\nConnection: keep-alive\r\n/i, 'the first kept alive, as its Connection asked')
  t.ok(answers[0].endsWith('\r\n\r\n/a'))
  t.match(answers[1], /^HTTP\/1\.1 200 OK\r\n/)
  t.match(answers[1], /\r\nConnection: close\r\n/i)
  t.ok(answers[1].endsWith('\r\n\r\n/b'), 'the second request read as a request, not as tunnel bytes')
  t.same(
    n.seen.map((s) => s.url),
    ['/a', '/b'],
    'the node saw two ordinary requests',
  )
  for (const s of n.seen) {
    t.equal(s.headers.upgrade, undefined, 'no Upgrade reaches the node')
    t.notMatch(s.headers.connection ?? '', /upgrade/i, 'nor a Connection: upgrade')
    t.equal(s.headers['sec-websocket-version'], s.url === '/a' ? '13' : undefined, 'end-to-end fields pass')
  }
  await p.sink.waitFinished(2)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'finished'),
    [
      ['finished', 'x', 200],
      ['finished', 'x', 200],
    ],
  )
})

t.test('a 101 to an HTTP/1.0 request carrying Upgrade opens no tunnel: the client gets a 502', async (t) => {
  let sawUpgrade = false
  const sockets: net.Socket[] = []
  const raw = net.createServer((s) => {
    sockets.push(s)
    s.on('error', () => undefined)
    s.once('data', (d: Buffer) => {
      sawUpgrade = /\r\nupgrade:/i.test(d.toString('latin1'))
      s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nfrom the node')
    })
  })
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
  const nx = node('x', (raw.address() as net.AddressInfo).port)
  const p = await startProxy({ x: [nx], proxy: { retries: 0 } })
  t.teardown(async () => {
    await p.close()
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => raw.close(resolve))
  })
  const { text, closed } = await exchange(p.port, 'GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  t.ok(closed)
  t.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/)
  t.notMatch(text, /101|from the node/, 'nothing of the switch reaches the client')
  t.notOk(sawUpgrade, 'the node was not asked to upgrade')
  await p.sink.waitFinished(1)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'attemptFailed' || c[0] === 'finished'),
    [
      ['attemptFailed', nx.name, 'protocol'],
      ['finished', 'x', 502],
    ],
  )
})
