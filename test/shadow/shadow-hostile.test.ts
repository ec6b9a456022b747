/**
 * Hostile answers to shadow copies: what x and y send must never break the proxy or the
 * client's answer, and the comparison must stay right (no false "differs" from framing,
 * no false "same").
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { startRawServer, startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

async function compared(c: Awaited<ReturnType<typeof startTestCutover>>, n: number) {
  return waitUntil(
    `${n} copies counted`,
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      const s = body.totals
      return s.match + s.mismatch + s.error + s.dropped >= n ? body : undefined
    },
    10_000,
  )
}

t.test('deeply nested JSON answers that differ: a mismatch, never a crash of the proxy', async (t) => {
  const depth = 20_000
  const deep = (leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth)
  const answer = (leaf: string) => (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(req.url === '/deep' ? deep(leaf) : '{"ok":true}')
  }
  const x = await startUpstream('x', answer('1'))
  const y = await startUpstream('y', answer('2'))
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const res = await fetch(`${c.proxyUrl}/deep`)
  t.equal(res.status, 200)
  t.equal((await res.text()).length, 2 * depth + 1, 'the client gets x’s answer whole')
  const report = await compared(c, 1)
  t.same(report.totals, { match: 0, mismatch: 1, error: 0, dropped: 0 })
  const differences: string[] = report.classes[0].differences
  t.equal(differences.length, 1)
  t.match(differences[0], /^body field \[0\]\[0\]/)
  t.ok(differences[0].length <= 300, 'a difference names a path of bounded length')
  t.equal((await fetch(`${c.proxyUrl}/after`)).status, 200, 'the proxy serves on')
})

t.test('ignore_headers of its own: framing and hop-by-hop headers are still never compared (the body is)', async (t) => {
  const body = '{"same":true}'
  // x answers chunked, y with a length, each on its own terms for the connection
  const x = await startUpstream('x', (req, res) => {
    req.resume()
    // (an h2 client gets the headers the Connection header lists: /b names none)
    res.writeHead(200, { 'content-type': 'application/json', 'x-node': 'same', ...(req.url === '/a' && { connection: 'keep-alive, x-hop', 'x-hop': 'x' }) })
    res.write(body.slice(0, 5))
    res.end(body.slice(5))
  })
  const y = await startUpstream('y', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json', 'x-node': 'same', 'content-length': String(body.length), 'keep-alive': 'timeout=2' })
    res.end(body)
  })
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy: '  h2c_listen: 127.0.0.1:0', extra: 'shadow:\n  share: 100\n  ignore_headers: [date]\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal(await (await fetch(`${c.proxyUrl}/a`)).text(), body)
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(() => session.close())
  t.equal((await h2Request(session, { ':path': '/b' })).body, body)
  const report = await compared(c, 2)
  t.same(
    report.classes.flatMap((k: { differences: string[] }) => k.differences),
    [],
    'no difference named',
  )
  t.same(report.totals, { match: 2, mismatch: 0, error: 0, dropped: 0 })
})

t.test('an h2 client, answers announcing trailers: the Trailer header (not relayed to h2) is not a difference', async (t) => {
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' })
    res.write('same ')
    res.addTrailers({ 'x-checksum': 'abc' })
    res.end('body')
  }
  const x = await startUpstream('x', answer)
  const y = await startUpstream('y', answer)
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy: '  h2c_listen: 127.0.0.1:0', extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(() => session.close())
  t.equal((await h2Request(session, { ':path': '/t' })).body, 'same body')
  const report = await compared(c, 1)
  t.same(
    report.classes.flatMap((k: { differences: string[] }) => k.differences),
    [],
    'no difference named',
  )
  t.same(report.totals, { match: 1, mismatch: 0, error: 0, dropped: 0 })
})

t.test('the copy is the request x got: headers the Connection header names are not sent, OPTIONS * stays *', async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const socket = net.connect(Number(new URL(c.proxyUrl).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let got = ''
  socket.on('data', (d) => {
    got += d.toString('latin1')
  })
  socket.write('GET /a HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, x-hop\r\nx-hop: for-cutover-only\r\n\r\nOPTIONS * HTTP/1.1\r\nhost: a\r\n\r\n')
  await waitUntil('both answered', () => got.split('HTTP/1.1 200').length === 3, 5000)
  await waitUntil('both copied', () => y.seen.length === 2, 5000)
  t.equal(x.seen[0].headers['x-hop'], undefined, 'x does not get it')
  t.equal(y.seen[0].headers['x-hop'], undefined, 'nor does y')
  t.same(
    x.seen.map((s) => s.url),
    ['/a', '*'],
  )
  t.same(
    y.seen.map((s) => s.url),
    ['/a', '*'],
  )
})

/** A y that answers every copy with a body that never ends, as fast as cutover reads it; written: its bytes so far. */
async function endlessY() {
  const state = { written: 0, copies: 0, closed: 0 }
  const piece = Buffer.alloc(64 * 1024, 0x61)
  const server = await startRawServer((s) => {
    s.once('data', () => {
      state.copies++
      s.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n')
      const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
      const more = () => {
        while (!s.destroyed) {
          state.written += piece.length
          if (!s.write(chunk)) return void s.once('drain', more)
        }
      }
      more()
    })
    s.on('close', () => state.closed++)
  })
  return Object.assign(server, { state })
}

t.test('a y whose body never ends: read no further than x’s answer decides, and cut', async (t) => {
  // x answers 1 MiB at once; y streams for ever
  const x = await startUpstream('x', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(Buffer.alloc(1024 * 1024, 0x61))
  })
  const y = await endlessY()
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  timeout: 60s\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await (await fetch(`${c.proxyUrl}/big`)).arrayBuffer()).byteLength, 1024 * 1024)
  const report = await compared(c, 1)
  t.same(report.totals, { match: 0, mismatch: 1, error: 0, dropped: 0 }, 'a mismatch as soon as y is longer than x')
  t.same(report.classes[0].differences, ['body'])
  await waitUntil('y’s connection cut', () => y.state.closed === 1, 5000)
  t.ok(y.state.written < 64 * 1024 * 1024, `y wrote ${y.state.written} bytes, no more than the socket buffers past x’s length`)
})

t.test('a y whose body never ends while x’s answer is still coming: y is read no further ahead of x than a bound', async (t) => {
  // x sends its head and a first piece, then holds the rest
  const held: ServerResponse[] = []
  const x = await startUpstream('x', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.write('first')
    held.push(res)
  })
  const y = await endlessY()
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  timeout: 60s\n' })
  t.teardown(async () => {
    for (const r of held) r.destroy()
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const res = await fetch(`${c.proxyUrl}/slow`)
  const reader = res.body!.getReader()
  await reader.read()
  await waitUntil('y streaming', () => y.state.written > 0, 5000)
  // y is held back by the socket, not read on: a second later it has not written much more
  const before = y.state.written
  await new Promise((r) => setTimeout(r, 1000))
  t.ok(y.state.written < 64 * 1024 * 1024, `y wrote ${y.state.written} bytes while x held its answer (${before} a second earlier)`)
  held[0].end('rest')
  while (!(await reader.read()).done) {}
  const report = await compared(c, 1)
  t.same(report.totals, { match: 0, mismatch: 1, error: 0, dropped: 0 })
  await waitUntil('y’s connection cut', () => y.state.closed === 1, 5000)
})

t.test('gzip-compressed JSON answers that differ in an ignored field only: a match', async (t) => {
  const { gzipSync } = await import('node:zlib')
  let n = 0
  const answer = (level: number) => (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
    res.end(gzipSync(JSON.stringify({ request_id: `r${n++}`, data: { name: 'ada' } }), { level }))
  }
  const x = await startUpstream('x', answer(1))
  const y = await startUpstream('y', answer(9))
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  ignore_fields: [request_id]\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const res = await fetch(`${c.proxyUrl}/z`)
  t.same(await res.json(), { request_id: 'r0', data: { name: 'ada' } })
  const report = await compared(c, 1)
  t.same(report.totals, { match: 1, mismatch: 0, error: 0, dropped: 0 })
})

t.test('the copy carries the X-Forwarded-* headers x got', async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const socket = net.connect(Number(new URL(c.proxyUrl).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let got = ''
  socket.on('data', (d) => {
    got += d.toString('latin1')
  })
  socket.write('GET /a HTTP/1.1\r\nhost: api.example\r\nx-forwarded-host: spoofed\r\n\r\nGET /b HTTP/1.1\r\nhost: api.example\r\nx-forwarded-for:\r\n\r\n')
  await waitUntil('both answered', () => got.split('HTTP/1.1 200').length === 3, 5000)
  await waitUntil('both copied', () => y.seen.length === 2, 5000)
  for (const name of ['x-forwarded-host', 'x-forwarded-for', 'x-forwarded-proto', 'host']) {
    t.same(
      y.seen.map((s) => s.headers[name]),
      x.seen.map((s) => s.headers[name]),
      name,
    )
  }
})

t.test('HEAD: no body to compare, so the lengths x and y declare are (framing aside)', async (t) => {
  const answer = (length: (path: string) => number) => (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    const n = length(req.url ?? '')
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(n) })
    res.end(req.method === 'HEAD' ? undefined : 'a'.repeat(n))
  }
  const x = await startUpstream(
    'x',
    answer(() => 1000),
  )
  const y = await startUpstream(
    'y',
    answer((path) => (path === '/differ' ? 999 : 1000)),
  )
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await fetch(`${c.proxyUrl}/same`, { method: 'HEAD' })).headers.get('content-length'), '1000')
  t.equal((await fetch(`${c.proxyUrl}/differ`, { method: 'HEAD' })).headers.get('content-length'), '1000')
  const report = await compared(c, 2)
  t.same(report.totals, { match: 1, mismatch: 1, error: 0, dropped: 0 })
  t.same(report.classes[0]?.differences, ['header content-length'])
})
