import t, { type Test } from 'tap'
import { fieldNameIs, headValue, parseRequestHead, parseResponseHead, REFUSAL } from '../../src/http1/index.js'

const MAX = 16384
const req = (s: string, max = MAX) => parseRequestHead(Buffer.from(s, 'latin1'), max)
const res = (s: string, method = 'GET', max = MAX) => parseResponseHead(Buffer.from(s, 'latin1'), max, method)

function head(t: Test, r: ReturnType<typeof req>) {
  if (r.kind !== 'head') t.fail(`expected a head, got ${JSON.stringify(r)}`)
  return r.kind === 'head' ? r.head : (undefined as never)
}

t.test('a plain request head', async (t) => {
  const s = 'GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \t\r\nx-thing: two\r\n\r\nNEXT'
  const r = req(s)
  t.equal(r.kind, 'head')
  if (r.kind !== 'head') return
  t.equal(r.length, s.length - 4, 'length covers the head up to the empty line')
  t.same(r.head.headers, ['Host', 'example.com', 'X-Thing', 'spaced value', 'x-thing', 'two'])
  t.equal(r.head.method, 'GET')
  t.equal(r.head.target, '/a?b=c')
  t.equal(r.head.versionMinor, 1)
  t.same(r.head.framing, { kind: 'none' })
  t.equal(r.head.keepAlive, true)
  t.equal(r.head.expectContinue, false)
  t.equal(r.head.upgrade, false)
  t.equal(r.head.hostIndex, 0)
})

t.test('partial heads wait, then parse', async (t) => {
  const s = 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n'
  for (let i = 0; i < s.length; i++) t.equal(req(s.slice(0, i)).kind, 'partial', `prefix ${i}`)
  const h = head(t, req(s))
  t.same(h.framing, { kind: 'length', length: 5 })
})

t.test('framing and connection semantics', async (t) => {
  t.same(head(t, req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n')).framing, { kind: 'chunked' })
  t.same(head(t, req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n')).framing, { kind: 'none' })
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n')).keepAlive, false)
  t.equal(head(t, req('GET / HTTP/1.0\r\n\r\n')).keepAlive, false, 'HTTP/1.0 needs no Host and closes by default')
  t.equal(head(t, req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).keepAlive, true)
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\n')).keepAlive, false, 'Proxy-Connection counts as Connection, as in llhttp')
  t.equal(head(t, req('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n')).expectContinue, true)
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).upgrade, true)
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n')).upgrade, false, 'Upgrade without Connection: upgrade')
  // RFC 9110 7.8: a server MUST ignore an Upgrade received in an HTTP/1.0 request
  const old = head(t, req('GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n'))
  t.equal(old.upgrade, false, 'no upgrade in an HTTP/1.0 request')
  t.equal(old.keepAlive, true, 'its other Connection tokens still count')
  t.equal(old.hopFields, 0b11, 'its Connection and Upgrade are not relayed')
  t.equal(head(t, req('GET / HTTP/1.0\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n')).h2cUpgrade, false, 'nor an h2c one')
  const h2c = head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: H2C\r\nHTTP2-Settings: AAMAAABk\r\n\r\n'))
  t.equal(h2c.upgrade, true, 'an h2c upgrade is an upgrade, as llhttp reads it')
  t.equal(h2c.h2cUpgrade, true, 'for h2c alone')
  t.equal(h2c.keepAlive, true)
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).h2cUpgrade, false)
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\n\r\n')).h2cUpgrade, false, 'h2c among others is not h2c alone')
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n\r\n')).h2cUpgrade, false, 'nor in two fields')
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n')).h2cUpgrade, false, 'no upgrade without Connection: upgrade')
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: x\r\nX: y\r\n\r\n')).hopFields, 1 << 1, 'HTTP2-Settings is not relayed')
  t.equal(head(t, req('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).method, 'GET', 'leading empty lines are skipped')
  t.equal(head(t, req('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')).target, '*')
  t.equal(head(t, req('GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n')).headers[3], 'caf\xe9', 'obs-text in a value kept byte for byte')
  t.equal(head(t, req('GET http://kong.test:8000/a?b HTTP/1.1\r\nHost: a\r\n\r\n')).target, 'http://kong.test:8000/a?b', 'absolute-form')
  t.equal(head(t, req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 \r\n\r\n')).framing.kind, 'length', 'a space after the length is fine')
})

t.test('ambiguous or malformed request heads are refused with the reason', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', 400, REFUSAL.duplicateHost],
    ['GET / HTTP/1.1\r\nX: a\r\n\r\n', 400, REFUSAL.missingHost],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400, REFUSAL.duplicateContentLength],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400, REFUSAL.lengthAndChunked],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n', 400, REFUSAL.lengthAndChunked],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, REFUSAL.transferEncodingHttp10],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 400, REFUSAL.transferEncodingNotChunked],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400, REFUSAL.duplicateTransferEncoding],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n', 400, REFUSAL.badContentLength],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n', 400, REFUSAL.badContentLength],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n', 400, REFUSAL.badContentLength],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n', 400, REFUSAL.badContentLength],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400, REFUSAL.obsFold],
    ['GET / HTTP/1.1\nHost: a\n\n', 400, REFUSAL.bareLineEnd],
    ['GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 400, REFUSAL.bareLineEnd],
    ['GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n', 400, REFUSAL.badFieldValue],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400, REFUSAL.spaceBeforeColon],
    ['GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', 400, REFUSAL.spaceBeforeColon],
    ['GET / HTTP/1.1\r\nHo(st: a\r\n\r\n', 400, REFUSAL.badFieldName],
    ['GET / HTTP/1.1\r\n: a\r\n\r\n', 400, REFUSAL.badFieldName],
    ['GET / HTTP/1.1\r\nHost a\r\n\r\n', 400, REFUSAL.spaceBeforeColon],
    ['GET / HTTP/1.1\r\nHosta\r\n\r\n', 400, REFUSAL.noColon],
    ['GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', 400, REFUSAL.badFieldValue],
    ['GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n', 400, REFUSAL.badFieldValue],
    ['G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badMethod],
    ['FOO / HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badMethod],
    ['get / HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badMethod],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', 501, REFUSAL.connect],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badRequestLine],
    ['GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badVersion],
    ['GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badTarget],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, REFUSAL.unsupportedVersion],
    ['GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505, REFUSAL.unsupportedVersion],
    ['GET / http/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badVersion],
    ['GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400, REFUSAL.badVersion],
    ['GET /\r\nHost: a\r\n\r\n', 400, REFUSAL.badTarget],
    ['GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.badTarget],
    ['GET a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['GET h2c://a/ HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['GET http://a{b/ HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['GET *a HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n', 400, REFUSAL.targetForm],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n', 400, REFUSAL.tabAfterFraming],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n\r\n', 400, REFUSAL.tabAfterFraming],
  ]
  for (const [s, status, reason] of cases) {
    t.same(req(s), { kind: 'refused', status, reason }, JSON.stringify(s))
  }
})

t.test('a bare LF is refused before the head completes', async (t) => {
  t.same(req('GET / HTTP/1.1\nHo'), { kind: 'refused', status: 400, reason: REFUSAL.bareLineEnd })
  t.same(req('GET / HTTP/1.1\r\nHost: a\nX'), { kind: 'refused', status: 400, reason: REFUSAL.bareLineEnd })
})

t.test('head size limit: 431, counted over the whole head', async (t) => {
  const s = 'GET / HTTP/1.1\r\nHost: a\r\nX: ' + 'v'.repeat(100) + '\r\n\r\n'
  t.equal(req(s, s.length).kind, 'head', 'exactly the limit is fine')
  t.same(req(s, s.length - 1), { kind: 'refused', status: 431, reason: REFUSAL.headTooLarge })
  t.same(req(s.slice(0, 60), 50), { kind: 'refused', status: 431, reason: REFUSAL.headTooLarge }, 'refused before it completes')
  t.equal(req(s.slice(0, 40), 50).kind, 'partial')
})

t.test('response heads and their framing', async (t) => {
  const ok = res('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\nabc')
  t.equal(ok.kind, 'head')
  if (ok.kind === 'head') {
    t.equal(ok.head.status, 200)
    t.equal(ok.head.reason, 'OK')
    t.same(ok.head.framing, { kind: 'length', length: 3 })
    t.same(ok.head.headers, ['Content-Length', '3', 'Set-Cookie', 'a', 'Set-Cookie', 'b'])
    t.equal(ok.head.keepAlive, true)
  }
  const framing = (s: string, m = 'GET') => {
    const r = res(s, m)
    return r.kind === 'head' ? r.head.framing : r
  }
  t.same(framing('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'HEAD'), { kind: 'none' })
  t.same(framing('HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n'), { kind: 'none' })
  t.same(framing('HTTP/1.1 304 Not Modified\r\n\r\n'), { kind: 'none' })
  t.same(framing('HTTP/1.1 100 Continue\r\n\r\n'), { kind: 'none' })
  t.same(framing('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'), { kind: 'none' })
  t.same(framing('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), { kind: 'chunked' })
  t.same(framing('HTTP/1.1 200 OK\r\n\r\n'), { kind: 'close' })
  t.same(framing('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n'), { kind: 'none' }, 'no reason phrase')
  t.same(framing('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n'), { kind: 'none' }, 'empty reason phrase')
  const close = res('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n')
  t.equal(close.kind === 'head' && close.head.keepAlive, false, 'HTTP/1.0 closes by default')
  const untilClose = res('HTTP/1.1 200 OK\r\n\r\n')
  t.equal(untilClose.kind === 'head' && untilClose.head.keepAlive, false, 'read-until-close is never reused')
})

t.test("a response's Keep-Alive timeout, in seconds", async (t) => {
  const kept = (field: string | null) => {
    const r = res(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\n${field === null ? '' : `Keep-Alive: ${field}\r\n`}\r\n`)
    return r.kind === 'head' ? r.head.keepAliveTimeout : r
  }
  t.equal(kept(null), -1, 'none said')
  t.equal(kept('timeout=5'), 5, "Node's servers")
  t.equal(kept('timeout=5, max=1000'), 5)
  t.equal(kept('max=1000, timeout=15'), 15, 'in any place')
  t.equal(kept('Timeout = 7 '), 7, 'any case, spaces around =')
  t.equal(kept('max=10'), -1, 'no timeout parameter')
  t.equal(kept('timeouts=5'), -1, 'another name')
  t.equal(kept('timeout=abc'), -1, 'not a number')
  t.equal(kept('timeout='), -1, 'no value')
  t.equal(kept('timeout=-1'), -1)
  t.equal(kept('timeout=1234567890'), -1, 'more than 9 digits')
  t.equal(kept('timeout=0'), 0)
  const two = res('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=9\r\nKeep-Alive: timeout=3\r\nContent-Length: 0\r\n\r\n')
  t.equal(two.kind === 'head' && two.head.keepAliveTimeout, 3, 'the last one read')
  const split = Buffer.from('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=4\r\nContent-Length: 0\r\n\r\n')
  t.equal(parseResponseHead(split.subarray(0, 25), 16384, 'GET').kind, 'partial')
  const whole = parseResponseHead(split, 16384, 'GET')
  t.equal(whole.kind === 'head' && whole.head.keepAliveTimeout, 4, 'a head read in two pieces')
})

t.test('malformed response heads are refused', async (t) => {
  for (const s of [
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 2000 OK\r\n\r\n',
    'HTTP/1.1 099 OK\r\n\r\n',
    'HTTP/1.1  200 OK\r\n\r\n',
    'HTTX/1.1 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
    'HTTP/1.1 200 O\x01K\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
    'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX : y\r\n\r\n',
    'garbage\r\n\r\n',
  ]) {
    t.equal(res(s).kind, 'refused', JSON.stringify(s))
  }
  t.equal(res('HTTP/1.1 200 OK\r\nContent-Le').kind, 'partial')
})

t.test('a response head marks its hop-by-hop fields and makes its strings on first use', async (t) => {
  const head = (s: string) => {
    const r = res(s)
    if (r.kind !== 'head') throw new Error(`not a head: ${JSON.stringify(r)}`)
    return r.head
  }
  const h = head(
    'HTTP/1.1 200 OK\r\nServer: n\r\nCONNECTION: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: x\r\nUpgrade: h2c\r\nProxy-Connection: close\r\nX-Upgrade: 1\t\r\nContent-Length:  0 \r\n\r\n',
  )
  t.equal(h.hopFields, 0b0111_1110, 'fields 1 to 6 by name, whatever their case; X-Upgrade and the framing field are not')
  t.same(h.headers, [
    'Server',
    'n',
    'CONNECTION',
    'keep-alive',
    'Keep-Alive',
    'timeout=5',
    'TE',
    'trailers',
    'Trailer',
    'x',
    'Upgrade',
    'h2c',
    'Proxy-Connection',
    'close',
    'X-Upgrade',
    '1',
    'Content-Length',
    '0',
  ])
  t.equal(h.headers, h.headers, 'made once')
  t.same(
    head('HTTP/1.1 200 OK\r\nX-A:\xfcber \r\nX-B: \r\nContent-Length: 0\r\n\r\n').headers,
    ['X-A', '\xfcber', 'X-B', '', 'Content-Length', '0'],
    'values trimmed of SP and HTAB only, empty ones kept',
  )
  t.equal(head('HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n').hopFields, -1, 'a Connection header naming a field: names are read instead')
  const many = Array.from({ length: 31 }, (_, i) => `X-${i}: ${i}\r\n`).join('')
  t.equal(head(`HTTP/1.1 200 OK\r\n${many}Content-Length: 0\r\n\r\n`).hopFields, -1, 'more than 30 fields: names are read instead')
  t.equal(head(`HTTP/1.1 200 OK\r\n${many.slice(0, many.indexOf('X-29'))}Connection: close\r\n\r\n`).hopFields, 1 << 29, 'the 30th field still has its bit')
})

t.test('a request head marks the fields it does not relay as sent, and makes its strings on first use', async (t) => {
  const r = req(
    'GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nexpect: 100-continue\r\nX-Forwarded-Host: a\r\nAccept: */*\r\nX-Forwarded-Proto: https\r\nTE: trailers\r\nX-Forwarded-For:10.0.0.2 \r\nX-Forwarded-Fo: 1\r\n\r\n',
  )
  if (r.kind !== 'head') throw new Error(`not a head: ${JSON.stringify(r)}`)
  const h = r.head
  t.equal(h.hopFields, 0b1110_1110, 'X-Forwarded-*, Expect and TE; not Host, Accept or a name that only starts the same')
  t.equal(h.forwardedFor, 0b1000_0010, 'both X-Forwarded-For fields')
  t.equal(h.expectContinue, true)
  t.same(h.headers.slice(14), ['X-Forwarded-For', '10.0.0.2', 'X-Forwarded-Fo', '1'])
  t.equal(h.headers[h.hostIndex + 1], 'h')
  const named = req('GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Private\r\nX-Private: 1\r\n\r\n')
  t.equal(named.kind === 'head' && named.head.hopFields, -1, 'a Connection header naming a field: names are read instead')
})

t.test('names compared and values read in the head text, no strings made for the rest', async (t) => {
  const r = req('GET / HTTP/1.1\r\nHost:  h \r\nX-Sticky-Key: abc\r\nX-Sticky: no\r\ncookie: a=1\r\n\r\n')
  if (r.kind !== 'head') throw new Error(`not a head: ${JSON.stringify(r)}`)
  const { text, lineStarts } = r.head
  if (text === undefined || lineStarts === undefined) throw new Error('a whole head has its text')
  t.equal(fieldNameIs(text, lineStarts, 1, 'x-sticky-key'), true, 'any case')
  t.equal(fieldNameIs(text, lineStarts, 2, 'x-sticky-key'), false, 'a shorter name')
  t.equal(fieldNameIs(text, lineStarts, 1, 'x-sticky'), false, 'a longer name')
  t.equal(fieldNameIs(text, lineStarts, 3, 'cookie'), true)
  t.equal(fieldNameIs(text, lineStarts, 3, 'cookie-and-more-than-the-text-holds'), false)
  t.equal(headValue(r.head, 0), 'h', 'trimmed')
  t.equal(headValue({ ...r.head, headers: ['Host', 'from-strings'], text: undefined, lineStarts: undefined }, 0), 'from-strings', 'a head without text: its strings')
})
