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
