import t from 'tap'
import { compareAnswers, type ShadowAnswer } from '../../src/shadow/compare.js'
import { isIdSegment, routePattern } from '../../src/shadow/route-pattern.js'
import { redactQuery } from '../../src/shadow/results.js'

const opts = { ignoreHeaders: new Set(['date', 'x-kong-proxy-latency']), ignoreFields: ['at', 'meta.request_id'] }
const answer = (over: Partial<ShadowAnswer>): ShadowAnswer => ({ status: 200, headers: ['Content-Type', 'application/json'], bodyHash: 'h1', bodyLength: 2, ...over })
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

t.test('status, headers (ignored ones and case aside) and body', async (t) => {
  t.same(compareAnswers(answer({ headers: ['Date', 'a', 'ETag', '1'] }), answer({ headers: ['date', 'b', 'etag', '1'] }), opts), { match: true, differences: [] })
  t.same(compareAnswers(answer({}), answer({ status: 503 }), opts).differences, ['status 200 -> 503'])
  t.same(compareAnswers(answer({ headers: ['etag', '1'] }), answer({ headers: ['etag', '2', 'x-new', 'y'] }), opts).differences, ['header etag', 'header x-new only on y'])
  t.same(compareAnswers(answer({ headers: ['vary', 'a'] }), answer({ headers: [] }), opts).differences, ['header vary missing on y'])
  t.same(compareAnswers(answer({}), answer({ bodyHash: 'h2' }), opts).differences, ['body'], 'not JSON: the hash decides')
})

t.test('JSON bodies: structure, not bytes; ignored fields by name or path', async (t) => {
  const x = answer({ bodyHash: 'a', json: json({ id: 1, at: 5, meta: { request_id: 'r1', v: 1 }, list: [{ at: 1, n: 1 }] }) })
  const sameButOrder = answer({ bodyHash: 'b', json: json({ list: [{ n: 1, at: 2 }], meta: { v: 1, request_id: 'r2' }, at: 6, id: 1 }) })
  t.same(compareAnswers(x, sameButOrder, opts), { match: true, differences: [] })
  const other = answer({ bodyHash: 'c', json: json({ id: 2, at: 5, meta: { request_id: 'r1' }, list: [{ n: 1 }, { n: 2 }], extra: true }) })
  t.same(compareAnswers(x, other, opts).differences, ['body field id', 'body field meta.v missing on y', 'body field list length', 'body field extra only on y'])
  t.same(compareAnswers(x, answer({ bodyHash: 'd', json: Buffer.from('{not json') }), opts).differences, ['body'])
  t.same(compareAnswers(x, answer({ bodyHash: 'd' }), opts).differences, ['body'], 'y too long for the structural comparison: the hash decides')
})

t.test('route patterns: ids, numbers, UUIDs and long hex become :id; the query goes', async (t) => {
  t.equal(routePattern('/users/42/orders?x=1'), '/users/:id/orders')
  t.equal(routePattern('/v1/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301'), '/v1/items/:id')
  t.equal(routePattern('/blobs/deadbeefcafe1234'), '/blobs/:id')
  t.equal(routePattern('/t/aB3dE5fG7hJ9kL1mN'), '/t/:id')
  t.equal(routePattern('/v2/status'), '/v2/status', 'a version word stays')
  t.equal(routePattern('http://example.com/a/7'), '/a/:id')
  t.equal(routePattern('*'), '*')
  t.notOk(isIdSegment('orders'))
  t.ok(routePattern(`/${'a/'.repeat(300)}`).length <= 201)
})

t.test('query values never stored', async (t) => {
  t.equal(redactQuery('/a?apikey=s3cret&b=1&flag'), '/a?apikey=…&b=…&flag')
  t.equal(redactQuery('/a'), '/a')
})

t.test('JSON numbers past double precision: compared as written, never equal by rounding', async (t) => {
  const body = (s: string) => answer({ bodyHash: s, json: Buffer.from(s) })
  // 64-bit ids: equal as doubles, different to every client that reads them as integers
  t.same(compareAnswers(body('{"id":12345678901234567890}'), body('{"id":12345678901234567891}'), opts).differences, ['body field id'])
  t.same(compareAnswers(body('{"id":12345678901234567890}'), body('{"id":1.2345678901234567e19}'), opts).differences, ['body field id'])
  t.same(compareAnswers(body('[9007199254740993]'), body('[9007199254740992]'), opts).differences, ['body field [0]'])
  t.same(compareAnswers(body('{"n":0.12345678901234567891}'), body('{"n":0.12345678901234567899}'), opts).differences, ['body field n'])
  t.same(compareAnswers(body('[1e400]'), body('[2e400]'), opts).differences, ['body field [0]'], 'both Infinity to JSON.parse')
  t.same(compareAnswers(body('[1e-400]'), body('[0]'), opts).differences, ['body field [0]'], 'both 0 to JSON.parse')
  // the same long number, spacing and key order aside: equal
  t.same(compareAnswers(body('{"a":1, "id":12345678901234567890}'), body('{"id":12345678901234567890,"a":1}'), opts), { match: true, differences: [] })
  // a string that looks like a long number is a string; numbers of ordinary precision by value
  t.same(compareAnswers(body('{"id":"12345678901234567890"}'), body('{"id":12345678901234567890}'), opts).differences, ['body field id'])
  t.same(compareAnswers(body('{"n":1.5,"s":"[1, 2]"}'), body('{"s":"[1, 2]","n":1.50}'), opts), { match: true, differences: [] })
  t.same(compareAnswers(body('{"s":"a\\"12345678901234567890"}'), body('{"s":"a\\"12345678901234567890"}'), opts), { match: true, differences: [] })
})

t.test('a difference names at most about 200 characters, however long the header name or JSON key', async (t) => {
  const long = `x-${'a'.repeat(60_000)}`
  const d1 = compareAnswers(answer({}), answer({ headers: ['Content-Type', 'application/json', long, '1'] }), opts).differences
  t.equal(d1.length, 1)
  t.ok(d1[0].startsWith('header x-aaa') && d1[0].length <= 210, `shortened (${d1[0].length})`)
  const d2 = compareAnswers(answer({ bodyHash: 'a', json: json({}) }), answer({ bodyHash: 'b', json: json({ [long]: 1 }) }), opts).differences
  t.equal(d2.length, 1)
  t.ok(d2[0].startsWith('body field x-aaa') && d2[0].length <= 230, `shortened (${d2[0].length})`)
})

t.test('compressed JSON bodies: compared as the JSON they hold', async (t) => {
  const zlib = await import('node:zlib')
  const gz = (v: unknown, level: number) => zlib.gzipSync(JSON.stringify(v), { level })
  const enc = (json: Buffer, encoding: string, hash: string) => answer({ headers: ['Content-Type', 'application/json', 'Content-Encoding', encoding], bodyHash: hash, json })
  // the same JSON but an ignored field, compressed at other levels: equal
  const x = enc(gz({ id: 1, at: 5, data: 'a'.repeat(100) }, 1), 'gzip', 'a')
  t.same(compareAnswers(x, enc(gz({ data: 'a'.repeat(100), at: 6, id: 1 }, 9), 'gzip', 'b'), opts), { match: true, differences: [] })
  t.same(compareAnswers(x, enc(gz({ id: 2, at: 5, data: 'a'.repeat(100) }, 1), 'gzip', 'c'), opts).differences, ['body field id'])
  const br = (v: unknown) => zlib.brotliCompressSync(JSON.stringify(v))
  t.same(compareAnswers(enc(br({ a: 1, b: [1] }), 'br', 'a'), enc(br({ b: [1], a: 1 }), 'br', 'b'), opts), { match: true, differences: [] })
  const df = (v: unknown) => zlib.deflateSync(JSON.stringify(v))
  t.same(compareAnswers(enc(df({ a: 1 }), 'deflate', 'a'), enc(df({ a: 2 }), 'deflate', 'b'), opts).differences, ['body field a'])
  // another coding of the same JSON: only the header differs
  t.same(compareAnswers(x, enc(br({ id: 1, at: 5, data: 'a'.repeat(100) }), 'br', 'd'), opts).differences, ['header content-encoding'])
  // a coding that is not valid, or more than json_max once decoded: the bytes decide
  t.same(compareAnswers(x, enc(Buffer.from('not gzip'), 'gzip', 'e'), opts).differences, ['body'])
  const bomb = enc(zlib.gzipSync(Buffer.from(`{"a":"${'a'.repeat(1_000_000)}"}`)), 'gzip', 'f')
  t.same(compareAnswers(x, bomb, { ...opts, jsonMax: 64 * 1024 }).differences, ['body'], 'decoded past json_max: not parsed')
})

t.test('compressed bodies that are not JSON: compared by their decoded bytes, not the compressed ones', async (t) => {
  const zlib = await import('node:zlib')
  const page = Buffer.from(`<html>${'<p>same page</p>'.repeat(200)}</html>`)
  const enc = (coded: Buffer, encoding: string, hash: string) => answer({ headers: ['Content-Type', 'text/html', 'Content-Encoding', encoding], bodyHash: hash, bodyLength: coded.length, coded })
  const x = enc(zlib.gzipSync(page, { level: 9 }), 'gzip', 'a')
  t.same(compareAnswers(x, enc(zlib.gzipSync(page, { level: 1 }), 'gzip', 'b'), opts), { match: true, differences: [] }, 'another level: equal')
  t.same(compareAnswers(x, enc(zlib.brotliCompressSync(page), 'br', 'c'), opts).differences, ['header content-encoding'], 'another coding: only the header differs')
  t.same(compareAnswers(x, enc(zlib.deflateSync(Buffer.from('<html>other</html>')), 'deflate', 'd'), opts).differences, ['header content-encoding', 'body'])
  t.same(compareAnswers(x, enc(zlib.gzipSync(Buffer.from('<html>other</html>')), 'gzip', 'e'), opts).differences, ['body'], 'another page: differs')
  t.same(compareAnswers(x, enc(Buffer.from('not gzip'), 'gzip', 'f'), opts).differences, ['body'], 'not what it says: the bytes decide')
  const big = enc(zlib.gzipSync(Buffer.alloc(100_000, 'a')), 'gzip', 'g')
  t.same(
    compareAnswers(big, enc(zlib.gzipSync(Buffer.alloc(100_000, 'a'), { level: 1 }), 'gzip', 'h'), { ...opts, jsonMax: 64 * 1024 }).differences,
    ['body'],
    'longer than json_max decoded: the bytes decide',
  )
})
