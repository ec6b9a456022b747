import t from 'tap'
import { authority, ClientFraming, clientAddress, clientResponseHead, upstreamRequestHead } from '../../src/forwarding/headers.js'
import { parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from '../../src/http1/index.js'

function requestOf(lines: string[], line = 'GET /p?q=1 HTTP/1.1'): RequestHead {
  const r = parseRequestHead(Buffer.from(`${line}\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1'), 65536)
  if (r.kind !== 'head') throw new Error(JSON.stringify(r))
  return r.head
}

function responseOf(lines: string[], status = 'HTTP/1.1 200 Fine Thanks'): ResponseHead {
  const r = parseResponseHead(Buffer.from(`${status}\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1'), 65536, 'GET')
  if (r.kind !== 'head') throw new Error(JSON.stringify(r))
  return r.head
}

t.test('request head: hop-by-hop dropped, Host kept, X-Forwarded-* set, one line each', async (t) => {
  const head = requestOf(
    [
      'Host: Kong.Example:8000',
      'Connection: keep-alive, X-Secret-Hop',
      'Keep-Alive: timeout=5',
      'X-Secret-Hop: drop me',
      'TE: trailers',
      'Trailer: x',
      'Proxy-Connection: keep-alive',
      'Upgrade: h2c',
      'Expect: 100-continue',
      'X-Forwarded-For: 1.1.1.1',
      'x-forwarded-for: 2.2.2.2',
      'X-Forwarded-Proto: ftp',
      'X-Forwarded-Host: evil',
      'Accept: a',
      'accept: b',
      'Content-Length: 3',
    ],
    'POST /p?q=1 HTTP/1.1',
  )
  t.equal(
    upstreamRequestHead(head, '10.1.2.3', true, false, 'node:1'),
    'POST /p?q=1 HTTP/1.1\r\nHost: Kong.Example:8000\r\nAccept: a\r\naccept: b\r\nContent-Length: 3\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.1.2.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: Kong.Example:8000\r\n\r\n',
  )
})

t.test('a chunked body is declared again; an HTTP/1.0 request without Host gets the node as Host', async (t) => {
  const chunked = requestOf(['Host: h', 'Transfer-Encoding: Chunked'], 'PUT / HTTP/1.1')
  t.equal(
    upstreamRequestHead(chunked, '1.2.3.4', false, false, 'n:1'),
    'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n',
  )
  const old = requestOf([], 'GET /old HTTP/1.0')
  t.equal(upstreamRequestHead(old, '1.2.3.4', false, false, '10.0.0.1:8000'), 'GET /old HTTP/1.1\r\nHost: 10.0.0.1:8000\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n\r\n')
})

t.test('an upgrade keeps Upgrade and Connection: Upgrade', async (t) => {
  const head = requestOf(['Host: h', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: k'])
  t.equal(
    upstreamRequestHead(head, '127.0.0.1', false, true, 'n:1'),
    'GET /p?q=1 HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  )
})

t.test('an upgrade asking for protocols in two Upgrade fields passes them all on, as one list', async (t) => {
  const head = requestOf(['Host: h', 'Connection: Upgrade', 'Upgrade: h2c', 'Upgrade: websocket, foo/2'])
  t.equal(
    upstreamRequestHead(head, '127.0.0.1', false, true, 'n:1'),
    'GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket, foo/2\r\n\r\n',
  )
})

t.test('client addresses and node authorities', async (t) => {
  t.equal(clientAddress('::ffff:10.0.0.1'), '10.0.0.1')
  t.equal(clientAddress('::1'), '::1')
  t.equal(clientAddress(undefined), '')
  t.equal(authority({ config: { origin: 'https://kong.internal:8443' } }), 'kong.internal:8443')
})

t.test('response head: hop-by-hop dropped, repeats kept, framing and connection written again', async (t) => {
  const res = responseOf([
    'Content-Type: text/plain',
    'Set-Cookie: a=1',
    'Transfer-Encoding: chunked',
    'Connection: keep-alive, X-Hop',
    'Keep-Alive: timeout=5',
    'Set-Cookie: b=2',
    'X-Hop: 1',
    'Upgrade: h2',
    'Proxy-Connection: x',
    'Trailer: y',
    'TE: z',
    'X-Cafe: \xfcn\xef',
  ])
  t.equal(
    clientResponseHead(res, ClientFraming.Chunked, false, false),
    'HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Cafe: \xfcn\xef\r\nTransfer-Encoding: chunked\r\n\r\n',
  )
  const plain = responseOf(['Content-Length: 2'], 'HTTP/1.1 404 Not Found')
  t.equal(clientResponseHead(plain, ClientFraming.AsIs, true, false), 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n')
  t.equal(
    clientResponseHead(plain, ClientFraming.AsIs, false, true),
    'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n',
    'an HTTP/1.0 client is told the connection stays',
  )
})

t.test('the codec says where each field line begins, and which read exactly `name: value`', async (t) => {
  const res = responseOf(['A: 1', 'B:2', 'C: 3 ', 'D: ', 'E:', 'F: six'])
  const text = res.text ?? ''
  t.equal(text, 'HTTP/1.1 200 Fine Thanks\r\nA: 1\r\nB:2\r\nC: 3 \r\nD: \r\nE:\r\nF: six\r\n\r\n')
  const at = (line: string) => text.indexOf(`\r\n${line}`) + 2
  t.same(res.lineStarts, [at('A: 1'), ~at('B:2'), ~at('C: 3 '), at('D: '), ~at('E:'), at('F: six'), text.length - 2])
  const req = parseRequestHead(Buffer.from('\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\nGET /next', 'latin1'), 65536)
  if (req.kind !== 'head') throw new Error(JSON.stringify(req))
  t.equal(req.head.text, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'a request head from its first line, not the empty lines before it')
  t.same(req.head.lineStarts, [16, 25])
})

t.test('heads copied in runs are the heads built line by line, byte for byte', async (t) => {
  // a seeded mix of ordinary, hop-by-hop, X-Forwarded-*, Host and Connection-named lines,
  // each written canonically or with the spacing a parser trims
  let seed = 20261129
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  const names = ['Accept', 'X-Custom', 'Set-Cookie', 'Keep-Alive', 'TE', 'Trailer', 'Upgrade', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Hop', 'Proxy-Connection', 'Content-Type', 'ETag', 'Via']
  const values = ['1', 'a b', 'x=y; z', 'Mon, 30 Nov 2026 00:00:00 GMT', '', '\xfcber']
  const line = (name: string, value: string) => [`${name}: ${value}`, `${name}:${value}`, `${name}:  ${value}`, `${name}: ${value}\t`][rand(4)]
  // the same head with nothing from the codec but its strings: built line by line, hop-by-hop fields found by name
  const withoutRuns = <H extends { headers: string[] }>(h: H): H => ({ ...h, headers: h.headers, text: undefined, lineStarts: undefined, hopFields: undefined })
  let copied = 0
  for (let n = 0; n < 400; n++) {
    const lines: string[] = []
    for (let k = rand(9); k > 0; k--) lines.push(line(names[rand(names.length)], values[rand(values.length)]))
    if (rand(3) === 0) lines.splice(rand(lines.length + 1), 0, 'Connection: keep-alive, X-Hop')
    const res = responseOf([...lines, 'Content-Length: 0'])
    const framing = rand(2) === 0 ? ClientFraming.AsIs : ClientFraming.Chunked
    const [close, keep] = [rand(2) === 0, rand(2) === 0]
    t.equal(clientResponseHead(res, framing, close, keep), clientResponseHead(withoutRuns(res), framing, close, keep), `response ${n}: ${lines.join(' | ')}`)
    lines.splice(rand(lines.length + 1), 0, line('Host', 'kong:8000'))
    const req = requestOf(lines)
    const upgrade = rand(2) === 0
    t.equal(upstreamRequestHead(req, '10.0.0.1', false, upgrade, 'n:1'), upstreamRequestHead(withoutRuns(req), '10.0.0.1', false, upgrade, 'n:1'), `request ${n}: ${lines.join(' | ')}`)
    if (res.lineStarts?.some((s) => s >= 0)) copied++
  }
  t.ok(copied > 200, `most heads had lines to copy: ${copied} of 400`)
})
