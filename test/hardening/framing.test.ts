// Request smuggling (issue 7, point 1): every ambiguous framing is refused with 400 and a
// closed connection, and no node sees any of it, nor the request smuggled behind it.
import t from 'tap'
import { node, startProxy } from '../forwarding/fixtures.js'
import net from 'node:net'
import { delay, rawExchange, recordingUpstream } from './raw.js'

// the request an attacker hides behind the ambiguous one
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'

const REFUSED: Array<[string, string]> = [
  ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding with Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'],
  ['two equal Content-Lengths', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd'],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd'],
  ['Transfer-Encoding: chunked, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding: gzip, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding: identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n'],
  ['Transfer-Encoding: identity with Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 4\r\n\r\nabcd'],
  ['Transfer-Encoding: xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['two Transfer-Encoding headers', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a malformed chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['a chunk size that overflows', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n'],
  ['a chunk size line ended by a bare LF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n'],
  ['an obs-folded header', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n'],
  ['two different Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['two equal Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n'],
  ['an upgrade with two Host headers', 'GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
  ['an upgrade with Transfer-Encoding: identity', 'GET /ws HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n'],
  ['a space before the colon', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nabcd'],
  ['a bare CR in the head', 'GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n'],
  ['heads ended by bare LFs', 'GET / HTTP/1.1\nHost: a\n\n'],
  ['a NUL in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n'],
]

t.test('ambiguous framing: 400, connection closed, nothing reaches a node', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  for (const [name, bytes] of REFUSED) {
    up.seen.length = 0
    const answer = await rawExchange(p.port, bytes + SMUGGLED)
    // the node may get a connection for a streamed request; give it time to show a request
    await delay(30)
    t.equal(answer.status, 400, `${name}: 400`)
    t.ok(answer.closed, `${name}: the connection is closed`)
    t.notMatch(answer.text, /HTTP\/1\.1 200/, `${name}: no second answer`)
    t.same(
      up.seen.map((s) => s.url),
      [],
      `${name}: the node saw no request`,
    )
  }
})

t.test("cutover's own refusals are JSON {message} with connection: close", async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const refused: string[] = []
  ;(p.forwarder as { onRefused?: (r: string) => void }).onRefused = (r) => refused.push(r)
  const answer = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
  const byParser = await rawExchange(p.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')
  t.match(byParser.text, /\r\nconnection: close\r\n/i, 'refusals by the parser close too')
  t.type(JSON.parse(byParser.text.split('\r\n\r\n')[1]).message, 'string', 'refusals by the parser are JSON {message} too')
  t.same(refused, ['framing', 'framing'], 'both reported to onRefused')
  const [head, body] = answer.text.split('\r\n\r\n')
  t.match(head, /\r\nconnection: close/i)
  t.match(head, /\r\ncontent-type: application\/json/i)
  t.type(JSON.parse(body).message, 'string')
})

t.test('a clean request after a refused one on the same connection is not forwarded', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  // pipelined: Node parses both before the first is answered
  const answer = await rawExchange(p.port, 'GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n')
  await delay(30)
  t.equal(answer.status, 400)
  t.equal(answer.text.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only')
  t.same(up.seen, [])
})

t.test('clean framings pass, re-framed by cutover', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  const cases: Array<[string, string, string]> = [
    ['Content-Length', 'POST /cl HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd', 'abcd'],
    // the RFC makes coding names case-insensitive and strips the whitespace around a value
    ['Transfer-Encoding: Chunked', 'POST /te HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['chunk extensions and trailers', 'POST /ext HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3;evil=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n', 'abc'],
    ['HTTP/1.0 without Host', 'GET /old HTTP/1.0\r\n\r\n', ''],
  ]
  for (const [name, bytes, body] of cases) {
    up.seen.length = 0
    const answer = await rawExchange(p.port, bytes, 300)
    t.equal(answer.status, 200, `${name}: 200`)
    t.equal(up.seen.length, 1, `${name}: one request upstream`)
    t.equal(up.seen[0]?.body, body, `${name}: the body arrived`)
    t.ok(up.seen[0]?.complete, `${name}: whole`)
    const names = (up.seen[0]?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    t.notOk(names.includes('x-trailer'), `${name}: no client trailer upstream`)
    t.ok(names.filter((n) => n === 'transfer-encoding' || n === 'content-length').length <= 1, `${name}: one framing header upstream`)
  }
})

t.test('a malformed chunk after the head was forwarded aborts the upstream request', async (t) => {
  const up = await recordingUpstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await up.close()
  })
  // the garbage comes once the node has the head
  const socket = net.connect(p.port, '127.0.0.1')
  const got: Buffer[] = []
  socket.on('data', (d) => got.push(d))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  up.seen.length = 0
  socket.write('POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')
  const until = Date.now() + 2000
  while (up.seen.length === 0 && Date.now() < until) await delay(10)
  t.equal(up.seen.length, 1, 'the node got the head (bodies stream)')
  socket.write('zz\r\nabc\r\n0\r\n\r\n' + SMUGGLED)
  await closed
  await delay(30)
  const text = Buffer.concat(got).toString('latin1')
  t.notMatch(text, /HTTP\/1\.1 200/, 'the client never sees a success')
  t.equal(up.seen.length, 1, 'the smuggled request never reached the node')
  t.notOk(up.seen[0]?.complete, 'the node never saw a whole request')
})
