/**
 * Copies of requests with a body (only of the methods in shadow.methods, buffered up to
 * shadow.max_body_bytes as they go to x) and of HTTP/2 streams (never gRPC calls).
 */

import http2 from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

/** Echoes the request body; y adds `"y": true` to answers of /differ. Bodies seen are kept. */
async function echo(role: 'x' | 'y'): Promise<TestUpstream & { bodies: string[] }> {
  const bodies: string[] = []
  const up = await startUpstream(role, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      bodies.push(body)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ method: req.method, body, ...(role === 'y' && req.url === '/differ' && { y: true }) }))
    })
  })
  return Object.assign(up, { bodies })
}

async function totalsAtLeast(c: Awaited<ReturnType<typeof startTestCutover>>, n: number) {
  return waitUntil(
    `${n} copies counted`,
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      const t = body.totals
      return t.match + t.mismatch + t.error + t.dropped >= n ? body : undefined
    },
    10_000,
  )
}

t.test('bodied requests: copied with their body when their method is configured, dropped past max_body_bytes', async (t) => {
  const x = await echo('x')
  const y = await echo('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  methods: [GET, POST]\n  max_body_bytes: 1kib\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const post = async (path: string, body: string | Readable, method = 'POST') => {
    const res = await request(c.proxyUrl + path, { method: method as 'POST', body })
    return { status: res.statusCode, body: await res.body.json() }
  }
  t.same((await post('/same', 'hello')).body, { method: 'POST', body: 'hello' })
  // chunked: no Content-Length, the body streams in two pieces
  t.same((await post('/same', Readable.from([Buffer.from('chunk-1 '), Buffer.from('chunk-2')]))).body, { method: 'POST', body: 'chunk-1 chunk-2' })
  t.same((await post('/differ', '{"a":1}')).body, { method: 'POST', body: '{"a":1}' }, 'the client gets x')
  const big = 'b'.repeat(2048)
  t.same((await post('/same', big)).body, { method: 'POST', body: big }, 'a body over the cap goes to x as ever')
  t.same((await post('/same', Readable.from([Buffer.from('c'.repeat(700)), Buffer.from('d'.repeat(700))]))).status, 200, 'a chunked body over the cap too')
  t.same((await post('/same', 'not copied', 'PUT')).body, { method: 'PUT', body: 'not copied' })

  const report = await totalsAtLeast(c, 5)
  t.same(report.totals, { match: 2, mismatch: 1, error: 0, dropped: 2 })
  t.equal(report.dropped_reasons.body_too_large, 2, 'dropped with their reason')
  t.same(y.bodies, ['hello', 'chunk-1 chunk-2', '{"a":1}'], 'y got the copies with their bodies, nothing over the cap, no PUT')
  t.same(report.classes[0].differences, ['body field y only on y'])
})

t.test('HTTP/2 streams are copied (with a body when configured), gRPC calls never', async (t) => {
  const x = await echo('x')
  const y = await echo('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy: '  h2c_listen: 127.0.0.1:0', extra: 'shadow:\n  share: 100\n  methods: [GET, POST]\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(() => session.close())
  t.equal((await h2Request(session, { ':path': '/same' })).status, 200)
  t.equal((await h2Request(session, { ':path': '/differ', ':method': 'POST' }, 'h2 body')).status, 200)
  await h2Request(session, { ':path': '/pkg.Svc/Call', ':method': 'POST', 'content-type': 'application/grpc' }, Buffer.alloc(5))

  const report = await totalsAtLeast(c, 2)
  t.same(report.totals, { match: 1, mismatch: 1, error: 0, dropped: 0 })
  t.same(
    y.seen.map((s) => `${s.method} ${s.url} ${s.headers['x-cutover-shadow']}`),
    ['GET /same 1', 'POST /differ 1'],
    'the copies, marked; no gRPC call',
  )
  t.same(y.bodies, ['', 'h2 body'])
  t.equal(report.classes[0].route, '/differ')
})

t.test('a compressed page x and y compress to other bytes (another level): a match, not a body difference', async (t) => {
  const zlib = await import('node:zlib')
  // text that compresses to about a third: level 1 and level 9 differ by kilobytes
  const page = Buffer.from(`<html>${Array.from({ length: 8000 }, (_, i) => `<p>${(i * 7919) % 10007}</p>`).join('')}</html>`)
  const bodyOf = (role: 'x' | 'y', url: string | undefined) =>
    url === '/other' && role === 'y' ? zlib.gzipSync(Buffer.from('<html>other</html>')) : zlib.gzipSync(page, { level: role === 'x' ? 9 : 1 })
  const answer = (role: 'x' | 'y', req: IncomingMessage, res: ServerResponse) => {
    const body = bodyOf(role, req.url)
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': body.length })
    if (role === 'x') return res.end(body)
    // y's body in two reads, the first already longer than x's whole body
    const first = Math.min(body.length, bodyOf('x', req.url).length + 100)
    res.write(body.subarray(0, first))
    setTimeout(() => res.end(body.subarray(first)), 20)
  }
  // y answers once x's answer is whole: y's body, longer than x's whole one, must not decide it
  const yHeld: Array<() => void> = []
  const x = await startUpstream('x', (req, res) => {
    req.resume()
    answer('x', req, res)
  })
  const y = await startUpstream('y', (req, res) => {
    req.resume()
    yHeld.push(() => answer('y', req, res))
  })
  t.ok(bodyOf('y', '/page').length > bodyOf('x', '/page').length, 'y’s bytes are more than x’s')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  for (const path of ['/page', '/other']) {
    const res = await request(`${c.proxyUrl}${path}`)
    t.equal(res.statusCode, 200)
    await res.body.arrayBuffer()
    await waitUntil('y has the copy', () => yHeld.length > 0, 5000)
    yHeld.shift()!()
  }
  const report = await totalsAtLeast(c, 2)
  t.same(report.totals, { match: 1, mismatch: 1, error: 0, dropped: 0 })
  t.same(
    report.classes.map((k: { route: string; differences: string[] }) => [k.route, k.differences]),
    [['/other', ['body']]],
  )
})
