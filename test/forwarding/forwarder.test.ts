import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { Readable } from 'node:stream'
import { Agent, request } from 'undici'
import { stickyBucket } from '../../src/routing/sticky.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { close, closedPort, listen, node, startProxy } from './fixtures.js'

const agent = new Agent({ keepAliveTimeout: 1000 })
t.teardown(() => agent.close())

interface Seen {
  method: string
  url: string
  rawHeaders: string[]
  length: number
  sha: string
}

/** An upstream that tells what it got, with a few special paths. */
async function upstream(): Promise<{ port: number; seen: Seen[]; server: http.Server; aborted: Promise<void>; release: () => void }> {
  const seen: Seen[] = []
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  let abortedResolve!: () => void
  const aborted = new Promise<void>((r) => (abortedResolve = r))
  const server = http.createServer((req, res) => {
    // so the test can tell a Date the proxy would add
    res.sendDate = false
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (c: Buffer) => {
      length += c.length
      hash.update(c)
    })
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, length, sha: hash.digest('hex') }
      seen.push(s)
      const path = req.url!.split('?')[0]
      if (path === '/cookies') {
        res.writeHead(200, 'Fine Thanks', ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'X-Hop', 'X-Hop', 'secret', 'Keep-Alive', 'timeout=9', 'X-Kept', 'yes', 'Content-Length', '2'])
        res.end('ok')
      } else if (path === '/204') {
        res.writeHead(204, ['X-Kind', 'none'])
        res.end()
      } else if (path === '/head') {
        res.writeHead(200, ['Content-Length', '1234', 'Content-Type', 'text/plain'])
        res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234))
      } else if (path === '/stream') {
        res.writeHead(200, ['Content-Type', 'text/plain'])
        res.write('first;')
        void released.then(() => res.end('last'))
      } else if (path === '/forever') {
        res.writeHead(200, ['Content-Type', 'text/plain'])
        res.write('first;')
        res.on('close', abortedResolve)
      } else if (path === '/cut') {
        res.writeHead(200, ['Content-Length', '100'])
        res.write('0123456789')
        setTimeout(() => res.socket?.destroy(), 20)
      } else if (path === '/hang') {
        // never answers
      } else if (path === '/reset') {
        req.socket.destroy()
      } else if (path === '/download') {
        res.writeHead(200, ['Content-Length', String(BIG.length)])
        res.end(BIG)
      } else {
        const body = JSON.stringify(s)
        res.writeHead(200, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body))])
        res.end(body)
      }
    })
  })
  const port = await listen(server)
  return { port, seen, server, aborted, release }
}

const BIG = randomBytes(5 * 1024 * 1024)
const BIG_SHA = createHash('sha256').update(BIG).digest('hex')

t.test('passthrough (SPEC 4.5)', async (t) => {
  const up = await upstream()
  const p = await startProxy({ x: [node('x', up.port)] })
  t.teardown(async () => {
    await p.close()
    await close(up.server)
  })
  const base = `http://127.0.0.1:${p.port}`

  t.test('host, path and query byte for byte', async (t) => {
    for (const path of ['/a%2Fb/caf%C3%A9/%zz?x=1&x=2&y=%20&z', '//double//slash', '/~user/a;b=c/%00?q=a+b', `/${'long'.repeat(2000)}`]) {
      const r = await request(`${base}${path}`, { dispatcher: agent, headers: { host: 'api.kong.test:8000' } })
      const s = (await r.body.json()) as Seen
      t.equal(r.statusCode, 200)
      t.equal(s.url, path, path.slice(0, 40))
      t.equal(s.rawHeaders[s.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1], 'api.kong.test:8000')
    }
  })

  t.test('methods', async (t) => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PURGE']) {
      const r = await request(`${base}/m`, { dispatcher: agent, method: method as 'GET' })
      const s = (await r.body.json()) as Seen
      t.equal(s.method, method)
    }
  })

  t.test('a 5 MiB body arrives whole, with a length or chunked', async (t) => {
    let r = await request(`${base}/upload`, { dispatcher: agent, method: 'POST', body: BIG })
    let s = (await r.body.json()) as Seen
    t.equal(s.length, BIG.length)
    t.equal(s.sha, BIG_SHA)
    const chunks = []
    for (let i = 0; i < BIG.length; i += 65536) chunks.push(BIG.subarray(i, i + 65536))
    r = await request(`${base}/upload`, { dispatcher: agent, method: 'PUT', body: Readable.from(chunks) })
    s = (await r.body.json()) as Seen
    t.equal(s.sha, BIG_SHA)
    t.ok(
      s.rawHeaders.some((h) => h.toLowerCase() === 'transfer-encoding'),
      'sent chunked',
    )
    r = await request(`${base}/download`, { dispatcher: agent })
    t.equal(
      createHash('sha256')
        .update(Buffer.from(await r.body.arrayBuffer()))
        .digest('hex'),
      BIG_SHA,
    )
  })

  t.test('hop-by-hop headers dropped both ways; X-Forwarded-* set', async (t) => {
    const raw = await new Promise<{ status: number; headers: string[]; body: string }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: p.port,
        path: '/echo',
        headers: {
          Host: 'Kong.Test',
          Connection: 'X-Private',
          'X-Private': 'no',
          'Keep-Alive': 'timeout=1',
          TE: 'trailers',
          'X-Forwarded-For': '203.0.113.9',
          'X-Forwarded-Proto': 'gopher',
          'X-Custom': 'Case',
        },
      })
      req.on('response', (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.rawHeaders, body }))
      })
      req.on('error', reject)
      req.end()
    })
    const s = JSON.parse(raw.body) as Seen
    const names = s.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase())
    for (const hop of ['x-private', 'keep-alive', 'te']) t.notOk(names.includes(hop), `${hop} dropped`)
    const get = (n: string) => s.rawHeaders[s.rawHeaders.findIndex((h) => h.toLowerCase() === n) + 1]
    t.equal(get('x-forwarded-for'), '203.0.113.9, 127.0.0.1')
    t.equal(get('x-forwarded-proto'), 'http')
    t.equal(get('x-forwarded-host'), 'Kong.Test')
    t.ok(s.rawHeaders.includes('X-Custom') && s.rawHeaders.includes('Case'), 'case kept')

    const r = await request(`${base}/cookies`, { dispatcher: agent })
    await r.body.text()
    t.same(r.headers['set-cookie'], ['a=1', 'b=2'], 'several Set-Cookie stay several')
    t.equal(r.headers['x-hop'], undefined)
    t.equal(r.headers['x-kept'], 'yes')
    t.equal(r.headers.date, undefined, 'no Date added')
    t.notOk(String(r.headers['keep-alive'] ?? '').includes('9'), 'upstream Keep-Alive dropped')
  })

  t.test('HEAD and 204 have no body', async (t) => {
    let r = await request(`${base}/head`, { dispatcher: agent, method: 'HEAD' })
    t.equal(r.statusCode, 200)
    t.equal(r.headers['content-length'], '1234')
    t.equal(await r.body.text(), '')
    r = await request(`${base}/204`, { dispatcher: agent })
    t.equal(r.statusCode, 204)
    t.equal(r.headers['x-kind'], 'none')
    t.equal(await r.body.text(), '')
  })

  t.test('a streamed response reaches the client before the upstream ends it', async (t) => {
    const r = await request(`${base}/stream`, { dispatcher: agent })
    const it = r.body[Symbol.asyncIterator]()
    const first = await it.next()
    t.equal(String(first.value), 'first;')
    up.release()
    let rest = ''
    for (;;) {
      const n = await it.next()
      if (n.done) break
      rest += String(n.value)
    }
    t.equal(rest, 'last')
  })

  t.test('a response cut by the upstream is broken for the client too', async (t) => {
    const r = await request(`${base}/cut`, { dispatcher: agent })
    t.equal(r.statusCode, 200)
    await t.rejects(r.body.text())
  })

  t.test('the sink saw each attempt and each request', async (t) => {
    const n = p.sink.calls.filter((c) => c[0] === 'finished').length
    p.sink.calls = []
    const r = await request(`${base}/echo`, { dispatcher: agent })
    await r.body.text()
    await p.sink.waitFinished(1)
    const name = `127.0.0.1:${up.port}`
    t.same(p.sink.calls, [
      ['attemptStarted', name],
      ['answered', name, 200],
      ['attemptEnded', name],
      ['finished', 'x', 200],
    ])
    t.ok(n > 10)
  })
})

t.test('the client going away aborts the upstream request', async (t) => {
  const up = await upstream()
  const n = node('x', up.port)
  const p = await startProxy({ x: [n] })
  t.teardown(async () => {
    await p.close()
    await close(up.server)
  })
  const r = await request(`http://127.0.0.1:${p.port}/forever`, { dispatcher: agent })
  const it = r.body[Symbol.asyncIterator]()
  await it.next()
  t.equal(n.inflight, 1)
  r.body.destroy()
  await up.aborted
  await p.sink.waitFinished(1)
  t.equal(n.inflight, 0)
  t.same(p.sink.calls.at(-1), ['finished', 'x', 200])
})

t.test('retries, failover and cutover errors', async (t) => {
  const up = await upstream()
  const good = node('x', up.port, 1)
  const refusing = node('x', await closedPort(), 1000)
  const p = await startProxy({ x: [refusing, good], proxy: { retries: 1, request_timeout: 300 } })
  t.teardown(async () => {
    await p.close()
    await close(up.server)
  })
  const base = `http://127.0.0.1:${p.port}`

  t.test('a refused connect is retried on another node, GET and POST', async (t) => {
    for (const method of ['GET', 'POST'] as const) {
      p.sink.calls = []
      const r = await request(`${base}/echo`, { dispatcher: agent, method, body: method === 'POST' ? 'payload' : undefined })
      const s = (await r.body.json()) as Seen
      t.equal(r.statusCode, 200)
      t.equal(s.length, method === 'POST' ? 7 : 0)
      await p.sink.waitFinished(1)
      t.same(p.sink.calls.slice(0, 3), [
        ['attemptStarted', refusing.name],
        ['attemptFailed', refusing.name, 'connect'],
        ['attemptEnded', refusing.name],
      ])
      t.same(p.sink.calls.at(-1), ['finished', 'x', 200])
    }
  })

  t.test('a POST reset after it was sent is not retried', async (t) => {
    const resetting = node('x', up.port, 1000)
    p.router.table = buildRoutingTable(0, { x: [resetting, good], y: [] }, () => true, { y: 0 })
    const before = up.seen.length
    const r = await request(`${base}/reset`, { dispatcher: agent, method: 'POST', body: 'once' })
    t.equal(r.statusCode, 502)
    t.equal(r.headers['content-type'], 'application/json')
    t.same(await r.body.json(), { message: 'upstream failed' })
    t.equal(up.seen.length - before, 1, 'the node saw it once')
    // an idempotent GET without a body is retried
    p.sink.calls = []
    const g = await request(`${base}/reset`, { dispatcher: agent })
    await g.body.text()
    t.equal(up.seen.length - before, 3, 'GET tried twice')
    t.ok(p.sink.calls.some((c) => c[0] === 'attemptFailed' && c[2] === 'reset'))
    await resetting.dispatcher.destroy()
  })

  t.test('a pool whose nodes all refuse sends its traffic to the other pool', async (t) => {
    const y = node('y', up.port)
    p.router.table = buildRoutingTable(100, { x: [good], y: [node('y', await closedPort())] }, () => true, { y: 0 })
    // the table's y node refuses: retried, and the retry goes to x
    let r = await request(`${base}/echo`, { dispatcher: agent })
    t.equal(r.statusCode, 200)
    await r.body.text()
    // y has no usable node at all: x serves
    p.router.table = buildRoutingTable(100, { x: [good], y: [] }, () => true, { y: 0 })
    p.sink.calls = []
    r = await request(`${base}/echo`, { dispatcher: agent })
    t.equal(r.statusCode, 200)
    await r.body.text()
    await p.sink.waitFinished(1)
    t.same(p.sink.calls.at(-1), ['finished', 'x', 200])
    // and the other way round
    p.router.table = buildRoutingTable(0, { x: [], y: [y] }, () => true, { y: 0 })
    p.sink.calls = []
    r = await request(`${base}/echo`, { dispatcher: agent })
    await r.body.text()
    await p.sink.waitFinished(1)
    t.same(p.sink.calls.at(-1), ['finished', 'y', 200])
    await y.dispatcher.destroy()
  })

  t.test('a pool whose node resets and whose other node refuses: the last retry goes to the other pool', async (t) => {
    // a whole pool going down at once: the in-flight request is reset by one node, the
    // retry would be refused by the other; the last chance belongs to the other pool
    const other = http.createServer((_req, res) => res.end('from x'))
    const otherPort = await listen(other)
    const resetting = node('y', up.port, 1000)
    const refusing = node('y', await closedPort(), 1)
    const x = node('x', otherPort)
    p.router.table = buildRoutingTable(100, { x: [x], y: [resetting, refusing] }, () => true, { y: 0 })
    p.sink.calls = []
    const r = await request(`${base}/reset`, { dispatcher: agent })
    t.equal(r.statusCode, 200, 'x answered')
    t.equal(await r.body.text(), 'from x')
    await p.sink.waitFinished(1)
    t.same(
      p.sink.calls.filter((c) => c[0] === 'attemptFailed'),
      [['attemptFailed', resetting.name, 'reset']],
      'y reset it once, and y was not tried again',
    )
    t.same(p.sink.calls.at(-1), ['finished', 'x', 200])
    await Promise.all([resetting.dispatcher.destroy(), refusing.dispatcher.destroy(), x.dispatcher.destroy()])
    await close(other)
  })

  t.test('502 when every node refuses, 503 when none is usable', async (t) => {
    const r1 = node('x', await closedPort())
    const r2 = node('y', await closedPort())
    p.router.table = buildRoutingTable(0, { x: [r1], y: [r2] }, () => true, { y: 0 })
    p.sink.calls = []
    let r = await request(`${base}/echo`, { dispatcher: agent })
    t.equal(r.statusCode, 502)
    t.same(await r.body.json(), { message: 'upstream failed' })
    await p.sink.waitFinished(1)
    t.same(p.sink.calls.at(-1), ['finished', 'y', 502], 'the pool of the last attempt')
    t.equal(p.sink.calls.filter((c) => c[0] === 'attemptStarted').length, 2, 'one retry')
    p.router.table = buildRoutingTable(0, { x: [], y: [] }, () => true, { y: 0 })
    r = await request(`${base}/echo`, { dispatcher: agent, method: 'POST', body: 'x' })
    t.equal(r.statusCode, 503)
    t.equal(r.headers['content-type'], 'application/json')
    t.same(await r.body.json(), { message: 'no upstream node is usable' })
    await r1.dispatcher.destroy()
    await r2.dispatcher.destroy()
  })

  t.test('504 when request_timeout passes before the response head', async (t) => {
    p.router.table = buildRoutingTable(0, { x: [good], y: [] }, () => true, { y: 0 })
    p.sink.calls = []
    const started = Date.now()
    const r = await request(`${base}/hang`, { dispatcher: agent })
    const took = Date.now() - started
    t.equal(r.statusCode, 504)
    t.same(await r.body.json(), { message: 'upstream timed out' })
    // request_timeout 300ms; undici's coarse timers fire up to ~1s late
    t.ok(took >= 250 && took < 2500, `took ${took}ms`)
    await p.sink.waitFinished(1)
    t.ok(p.sink.calls.some((c) => c[0] === 'attemptFailed' && c[2] === 'timeout'))
    t.same(p.sink.calls.at(-1), ['finished', 'x', 504])
  })
})

t.test('max_body_size', async (t) => {
  const up = await upstream()
  const p = await startProxy({ x: [node('x', up.port)], proxy: { max_body_size: 1000 } })
  t.teardown(async () => {
    await p.close()
    await close(up.server)
  })
  const base = `http://127.0.0.1:${p.port}`
  let r = await request(`${base}/echo`, { dispatcher: agent, method: 'POST', body: Buffer.alloc(1001) })
  t.equal(r.statusCode, 413)
  t.same(await r.body.json(), { message: 'request body too large' })
  r = await request(`${base}/echo`, { dispatcher: agent, method: 'POST', body: Buffer.alloc(1000) })
  t.equal(r.statusCode, 200)
  await r.body.text()
  const before = up.seen.length
  // chunked: cut once it passes the limit
  try {
    r = await request(`${base}/echo`, { dispatcher: agent, method: 'POST', body: Readable.from([Buffer.alloc(600), Buffer.alloc(600), Buffer.alloc(600)]) })
    t.equal(r.statusCode, 413)
    await r.body.text()
  } catch (err) {
    t.pass(`cut: ${(err as Error).message}`)
  }
  t.equal(up.seen.length, before, 'the upstream never got a whole request')
})

t.test('routing on the override header, a sticky header and a sticky cookie, names in any case', async (t) => {
  const [ux, uy] = [await upstream(), await upstream()]
  const p = await startProxy({ x: [node('x', ux.port)], y: [node('y', uy.port)], share: 50, split: { override_header: 'X-Cutover-Pool', sticky: { header: 'X-Consumer-Id' } } })
  t.teardown(async () => {
    await p.close()
    await close(ux.server)
    await close(uy.server)
  })
  const base = `http://127.0.0.1:${p.port}`
  const poolOf = async (headers: Record<string, string | string[]>): Promise<'x' | 'y'> => {
    const [nx, ny] = [ux.seen.length, uy.seen.length]
    const r = await request(`${base}/who`, { dispatcher: agent, headers })
    await r.body.text()
    t.equal(r.statusCode, 200)
    if (ux.seen.length === nx + 1 && uy.seen.length === ny) return 'x'
    if (uy.seen.length === ny + 1 && ux.seen.length === nx) return 'y'
    throw new Error('the request reached neither pool once')
  }
  t.equal(await poolOf({ 'x-cutover-pool': 'y', 'x-consumer-id': 'a' }), 'y')
  t.equal(await poolOf({ 'X-CUTOVER-POOL': 'x' }), 'x', 'the name in another case')
  // every key goes where its bucket says, however its header name is written
  const keys = Array.from({ length: 24 }, (_, i) => `consumer-${i}`)
  const expected = keys.map((k) => (stickyBucket(k) < 5000 ? 'y' : 'x'))
  t.ok(expected.includes('x') && expected.includes('y'), 'the keys fall on both sides')
  for (const [i, key] of keys.entries()) {
    t.equal(await poolOf({ [i % 2 ? 'X-Consumer-ID' : 'x-consumer-id']: key, accept: '*/*' }), expected[i], key)
  }
  // a sticky cookie, among other cookies in two Cookie headers
  p.router.table = buildRoutingTable(50, { x: [node('x', ux.port)], y: [node('y', uy.port)] }, () => true, { y: 0, sticky: { cookie: 'sid' } })
  for (const [i, key] of keys.slice(0, 8).entries()) {
    t.equal(await poolOf({ cookie: ['theme=dark', `a=1; sid=${key}`] }), expected[i], `cookie ${key}`)
  }
})

t.test('a retried request whose chunked body is empty goes again whole: its last chunk and trailers too', async (t) => {
  // the first node reads the request and closes without answering (retried: PUT, nothing of
  // the body was sent as payload); the second answers once the chunked body has ended
  const first = await startRawServer((s) => {
    let got = ''
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      if (got.endsWith('\r\n\r\n') && got.indexOf('\r\n\r\n') < got.length - 4) s.destroy()
    })
  })
  let seen = ''
  const second = await startRawServer((s) => {
    s.on('data', (d: Buffer) => {
      seen += d.toString('latin1')
      if (/\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n$/.test(seen.slice(seen.indexOf('\r\n\r\n') + 2))) s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
  })
  const nFirst = node('x', first.port, 1000)
  const nSecond = node('x', second.port, 1)
  const p = await startProxy({ x: [nFirst, nSecond], proxy: { retries: 1, request_timeout: 2000 } })
  t.teardown(async () => {
    await p.close()
    await Promise.all([first.close(), second.close()])
  })
  const c = net.connect(p.port, '127.0.0.1')
  t.teardown(() => c.destroy())
  let text = ''
  c.on('data', (d: Buffer) => (text += d.toString('latin1')))
  c.write('PUT /empty HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 42\r\n\r\n')
  await waitUntil('an answer', () => /\r\n\r\n/.test(text) && (text.startsWith('HTTP/1.1 200') ? text.endsWith('ok') : true), 5000)
  t.match(text, /^HTTP\/1\.1 200 /, 'answered by the second node, not a 504')
  t.match(seen, /^PUT \/empty HTTP\/1\.1\r\n/, 'the second node got the request')
  t.ok(seen.endsWith('\r\n0\r\nX-Sum: 42\r\n\r\n'), `and its last chunk with its trailer: ${JSON.stringify(seen.slice(-40))}`)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'attemptFailed'),
    [['attemptFailed', nFirst.name, 'reset']],
    'the first node failed once',
  )
})
