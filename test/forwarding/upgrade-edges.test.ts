// The edges of an upgrade a hostile client or node can reach: an Upgrade in an HTTP/1.0
// request (ignored, RFC 9110 7.8), a 101 to a request that could not ask for one, bytes
// a client sends behind an upgrade request before the node has switched, a 101 to a protocol
// the client did not ask for, and the fields of a 101 that are not the client's.
import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
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

/** Send raw bytes on a connection kept open until the test ends; resolve with what was read once it ends with `end` (or the proxy closed it). */
async function readUntil(t: Test, port: number, bytes: string, end: string, what: string): Promise<string> {
  const c = net.connect(port, '127.0.0.1')
  t.teardown(() => c.destroy())
  c.on('error', () => undefined)
  let text = ''
  c.on('data', (d: Buffer) => (text += d.toString('latin1')))
  c.write(bytes)
  await waitUntil(what, () => text.endsWith(end) || c.destroyed, 3000)
  return text
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

/** A raw node that reads bodiless request heads, one after another, and writes answer(head) to each (the head without its blank line). */
function answeringHeads(answer: (head: string) => string): ReturnType<typeof startRawServer> {
  return startRawServer((s) => {
    let got = ''
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      for (let end = got.indexOf('\r\n\r\n'); end >= 0; end = got.indexOf('\r\n\r\n')) {
        const head = got.slice(0, end)
        got = got.slice(end + 4)
        s.write(answer(head))
      }
    })
  })
}

const WS = 'GET /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'

t.test('bytes a client sends behind an upgrade request wait for the 101: a node that declines it never reads them as a request', async (t) => {
  // a node that knows nothing of upgrades, as nginx (Kong) serving a route without
  // WebSockets: it answers the upgrade request as any other (a 426, kept alive) and reads
  // the bytes behind it as the next request
  const seen: string[] = []
  const raw = await answeringHeads((head) => {
    seen.push(head.slice(0, head.indexOf('\r\n')))
    return /\r\nupgrade:/i.test(head) ? 'HTTP/1.1 426 Upgrade Required\r\nContent-Length: 8\r\n\r\ndeclined' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
  })
  const p = await startProxy({ x: [node('x', raw.port)] })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const { text, closed } = await exchange(p.port, `${WS}GET /charge HTTP/1.1\r\nHost: kong.test\r\n\r\n`)
  t.ok(closed, 'cutover closed the connection after the answer')
  t.match(text, /^HTTP\/1\.1 426 Upgrade Required\r\n/)
  t.match(text, /\r\nConnection: close\r\n/, 'the client learns that nothing after the upgrade request was served')
  t.ok(text.endsWith('\r\n\r\ndeclined'), 'one answer')
  t.same(seen, ['GET /ws HTTP/1.1'], 'the node never read the bytes behind it as a request')
})

t.test('an upgrade request with a body: the body goes before the 101, the bytes after it once the node switched', async (t) => {
  const before: string[] = []
  // switches once it has the head and the body (X-Body-Bytes long, as sent), then echoes
  const raw = await startRawServer((s) => {
    let got = ''
    let switched = false
    s.on('data', (d: Buffer) => {
      if (switched) {
        s.write(d)
        return
      }
      got += d.toString('latin1')
      const end = got.indexOf('\r\n\r\n')
      const length = Number(/\r\nx-body-bytes: *(\d+)/i.exec(got)?.[1] ?? 0)
      if (end < 0 || got.length < end + 4 + length) return
      switched = true
      before.push(got)
      s.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${got.slice(end + 4 + length)}`)
    })
  })
  const p = await startProxy({ x: [node('x', raw.port)] })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  for (const [label, framing, body] of [
    ['Content-Length', 'Content-Length: 5', 'hello'],
    ['chunked', 'Transfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'],
  ] as const) {
    const socket = net.connect(p.port, '127.0.0.1')
    t.teardown(() => socket.destroy())
    let text = ''
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
    socket.write(`POST /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Body-Bytes: ${body.length}\r\n${framing}\r\n\r\n${body}tunnel`)
    await waitUntil(`${label}: the 101 and the echo`, () => text.endsWith('\r\n\r\ntunnel'), 3000)
    t.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/, label)
    t.ok(before.at(-1)?.endsWith(`\r\n\r\n${body}`), `${label}: the node had the body, and nothing after it, when it switched`)
  }
})

t.test('bytes sent behind an upgrade request before its node reset it go to the node it is retried on, after its 101', async (t) => {
  const first = await startRawServer((s) => s.once('data', () => s.resetAndDestroy()))
  let before = ''
  const second = await startRawServer((s) => {
    let switched = false
    s.on('data', (d: Buffer) => {
      if (switched) {
        s.write(d)
        return
      }
      switched = true
      before = d.toString('latin1')
      s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
    })
  })
  const p = await startProxy({ x: [node('x', first.port)], y: [node('y', second.port)], proxy: { retries: 1 } })
  t.teardown(async () => {
    await p.close()
    await first.close()
    await second.close()
  })
  const text = await readUntil(t, p.port, `${WS}early`, 'early', 'the 101 and the echo')
  t.equal(text, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly', 'switched by the second node, which echoed the early bytes')
  t.ok(before.endsWith('\r\n\r\n'), 'the second node had the request alone before it switched')
})

t.test('an upgrade request whose chunked body breaks its framing is answered 400', async (t) => {
  const n = await recordingNode(true)
  const p = await startProxy({ x: [node('x', n.port)] })
  t.teardown(async () => {
    await p.close()
    await n.close()
  })
  const { text, closed } = await exchange(p.port, 'POST /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n')
  t.ok(closed)
  t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/)
  t.match(text, /bad chunk size/)
  t.notMatch(text, /101/)
  await p.sink.waitFinished(1)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'finished'),
    [['finished', 'x', 400]],
  )
})

t.test('an Upgrade not named by Connection asks for nothing: an ordinary request; a 101 to it is a 502, and the connection goes on', async (t) => {
  const heads: string[] = []
  const raw = await answeringHeads((head) => {
    heads.push(head)
    return head.startsWith('GET /one ') ? 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nfrom the node' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
  })
  const p = await startProxy({ x: [node('x', raw.port)] })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const { text, closed } = await exchange(p.port, 'GET /one HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  t.ok(closed)
  const answers = text.split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2)
  t.match(answers[0], /^HTTP\/1\.1 502 Bad Gateway\r\n/, 'the unasked-for 101 is a bad answer')
  t.notMatch(text, /from the node/, 'nothing of it reaches the client')
  t.match(answers[1], /^HTTP\/1\.1 200 OK\r\n/, 'the next request on the connection is served')
  t.same(
    heads.map((h) => h.slice(0, h.indexOf(' HTTP/'))),
    ['GET /one', 'GET /next'],
  )
  t.notMatch(heads[0], /upgrade/i, 'the Upgrade did not reach the node')
})

t.test('more than the hold (64 KiB) sent behind an upgrade request before its 101: all of it reaches the node after the switch, and the tunnel flows on', async (t) => {
  // the node switches only once the test says so, then echoes: the client's early bytes
  // filled the hold and paused its reading; the switch must resume it
  let release = (): void => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  let heads = 0
  const raw = await startRawServer((s) => {
    s.once('data', () => {
      heads++
      void released.then(() => {
        s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
        s.on('data', (d: Buffer) => s.write(d))
      })
    })
  })
  const p = await startProxy({ x: [node('x', raw.port)] })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const early = Buffer.alloc(256 * 1024, 'e')
  const late = Buffer.from('after the switch')
  const client = net.connect(p.port, '127.0.0.1')
  t.teardown(() => client.destroy())
  client.on('error', () => undefined)
  let got = Buffer.alloc(0)
  client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])))
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  client.write(WS)
  client.write(early)
  // the proxy read up to its hold and stopped reading: the rest waits in the sockets' buffers
  await waitUntil('the node has the request head', () => heads === 1, 3000)
  release()
  const head = 'HTTP/1.1 101 Switching Protocols\r\n'
  await waitUntil('the early bytes come back through the tunnel', () => got.length >= head.length + early.length, 5000)
  client.write(late)
  await waitUntil('bytes sent after the switch come back too', () => got.toString('latin1').endsWith(late.toString()), 3000)
  const text = got.toString('latin1')
  const body = text.slice(text.indexOf('\r\n\r\n') + 4)
  t.equal(body, early.toString('latin1') + late.toString(), 'every byte, in order')
})

/** The request line's target and its Upgrade value: `GET /ws HTTP/1.1` asking for `upgrade`. */
function wsAsking(upgrade: string): string {
  return WS.replace('Upgrade: websocket\r\n', `Upgrade: ${upgrade}\r\n`)
}

for (const [label, asked, upgrade] of [
  ['with no Upgrade', 'websocket', null],
  ['with an empty Upgrade', 'websocket', ''],
  ['to a protocol the client did not ask for', 'websocket', 'h2c'],
  ['to one it asked for and one it did not', 'websocket', 'websocket, h2c'],
  ['to another version of the protocol asked for', 'foo/1', 'foo/2'],
] as const) {
  t.test(`a 101 ${label} is not relayed: the client gets a 502 and its connection closes`, async (t) => {
    const raw = await answeringHeads(() => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n${upgrade === null ? '' : `Upgrade: ${upgrade}\r\n`}\r\nfrom the node`)
    const nx = node('x', raw.port)
    const p = await startProxy({ x: [nx] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const { text, closed } = await exchange(p.port, `${wsAsking(asked)}early`)
    t.ok(closed, 'the connection closed')
    t.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/)
    t.match(text, /\r\nConnection: close\r\n/i)
    t.notMatch(text, /101|from the node/, 'nothing of the switch reaches the client')
    await p.sink.waitFinished(1)
    t.same(
      p.sink.calls.filter((c) => c[0] === 'attemptFailed' || c[0] === 'finished'),
      [
        ['attemptFailed', nx.name, 'protocol'],
        ['finished', 'x', 502],
      ],
      'a failed attempt and a 502, as any bad answer',
    )
  })
}

for (const [label, asked, upgrade] of [
  ['in another case', 'websocket', 'WebSocket'],
  ['with a version, to a request that named none', 'websocket', 'websocket/13'],
  ['without the version the request named', 'foo/1', 'foo'],
  ['to the second protocol offered', 'foo/1, websocket', 'websocket'],
] as const) {
  t.test(`a 101 naming the protocol asked for ${label} opens the tunnel`, async (t) => {
    const raw = await startRawServer((s) => {
      s.once('data', () => {
        s.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`)
        s.on('data', (d: Buffer) => s.write(d))
      })
    })
    const p = await startProxy({ x: [node('x', raw.port)] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const text = await readUntil(t, p.port, `${wsAsking(asked)}echo`, 'echo', 'the 101 and the echo')
    t.equal(text, `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\necho`)
  })
}

const ACCEPT = 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'

for (const [label, fields, relayed] of [
  [
    'hop-by-hop fields and those its Connection names',
    `Upgrade: websocket\r\nConnection: Upgrade\r\n${ACCEPT}Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Sum\r\nX-Hop: 1\r\nConnection: X-Hop\r\nX-End: 1\r\n`,
    `Upgrade: websocket\r\nConnection: Upgrade\r\n${ACCEPT}X-End: 1\r\n`,
  ],
  ['a Content-Length (a 1xx has no content)', `Upgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 10\r\n${ACCEPT}`, `Upgrade: websocket\r\nConnection: upgrade\r\n${ACCEPT}`],
  ['a Transfer-Encoding', `Upgrade: websocket\r\nTransfer-Encoding: chunked\r\nConnection: Upgrade\r\n${ACCEPT}`, `Upgrade: websocket\r\nConnection: Upgrade\r\n${ACCEPT}`],
  ['a Connection naming more than upgrade (cutover writes its own)', `Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n${ACCEPT}`, `Upgrade: websocket\r\n${ACCEPT}Connection: Upgrade\r\n`],
] as const) {
  t.test(`a 101 carrying ${label}: they do not reach the client; Upgrade, Connection: upgrade and the rest pass as sent`, async (t) => {
    const raw = await answeringHeads(() => `HTTP/1.1 101 Switching Protocols\r\n${fields}\r\nfrom the node`)
    const p = await startProxy({ x: [node('x', raw.port)] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const text = await readUntil(t, p.port, WS, 'from the node', 'the 101 and what the node sent after it')
    t.equal(text, `HTTP/1.1 101 Switching Protocols\r\n${relayed}\r\nfrom the node`)
  })
}
