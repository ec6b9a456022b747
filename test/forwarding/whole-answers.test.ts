// What a client reads is one answer, whole, and only its own: found by fuzzing whole
// connections against raw nodes (a retry after a node cut its head, cutover's own errors to
// HEAD, a slow reader of an answer that ends with the connection).
import net from 'node:net'
import t from 'tap'
import { type RawServer, startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { node, startProxy } from './fixtures.js'

/** A raw node: answer(socket, n) for the n-th request head it reads (0-based, across connections). */
function rawNode(answer: (socket: net.Socket, n: number) => void): Promise<RawServer> {
  let n = 0
  return startRawServer((s) => {
    let buf = ''
    s.on('data', (d) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(end + 4)
        answer(s, n++)
      }
    })
  })
}

/** Send raw bytes; resolve with everything received once the connection closed (or `until` matched). */
function exchange(port: number, bytes: string, until?: (text: string) => boolean, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    const timer = setTimeout(() => s.destroy(), ms)
    s.on('data', (d) => {
      text += d.toString('latin1')
      if (until?.(text)) s.destroy()
    })
    s.on('error', () => undefined)
    s.on('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}

t.test('a retry after a node cut its answer in the middle of the head: the client reads the next node’s answer alone', async (t) => {
  const first = await rawNode((s) => {
    s.write('HTTP/1.1 200 OK\r\nSet-Cookie: session=from-the-failed-node')
    setTimeout(() => s.resetAndDestroy(), 30)
  })
  const second = await rawNode((s) => s.write('HTTP/1.1 404 Not Found\r\nX-Node: second\r\nContent-Length: 9\r\n\r\nnot found'))
  const p = await startProxy({ x: [node('x', first.port)], y: [node('y', second.port)], proxy: { retries: 1 } })
  t.teardown(async () => {
    await p.close()
    await first.close()
    await second.close()
  })
  const text = await exchange(p.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n', (s) => s.endsWith('not found'))
  t.equal(text, 'HTTP/1.1 404 Not Found\r\nX-Node: second\r\nContent-Length: 9\r\n\r\nnot found')
})

t.test('cutover’s own answers to HEAD carry no body: the next answer on the connection reads whole', async (t) => {
  const failing = await rawNode((s) => s.resetAndDestroy())
  const p = await startProxy({ x: [node('x', failing.port)], proxy: { retries: 0 } })
  t.teardown(async () => {
    await p.close()
    await failing.close()
  })
  const text = await exchange(p.port, 'HEAD /a HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  const answers = text.split('HTTP/1.1 ').slice(1)
  t.equal(answers.length, 2, 'two answers')
  for (const a of answers) {
    t.match(a, /^502 Bad Gateway\r\n/)
    t.ok(a.endsWith('\r\n\r\n'), 'the head alone')
    t.match(a, /content-length: 29\r\n/i, 'with the length a GET would have had')
  }
  // no node at all (503 on the connection's own path)
  const none = await startProxy({ x: [] })
  t.teardown(() => none.close())
  const noNode = await exchange(none.port, 'HEAD /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  t.match(noNode, /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\n\r\n$/, '503 head alone')
})

t.test('a slow reader of an answer that ends with the connection gets every byte, however long it takes past the linger', async (t) => {
  const size = 8 * 1024 * 1024
  const body = Buffer.alloc(size, 'a')
  const sender = await rawNode((s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n')
    s.end(body) // framed by the close
  })
  const p = await startProxy({ x: [node('x', sender.port)], proxy: { idle_timeout: 2000 } })
  t.teardown(async () => {
    await p.close()
    await sender.close()
  })
  const s = net.connect(p.port, '127.0.0.1')
  let got = 0
  let ended = false
  // ~2 MB/s: the answer takes ~4 s to read, its last MBs long after cutover handed it to the
  // socket (more than the kernel's buffers hold)
  s.on('data', (d) => {
    got += d.length
    s.pause()
    setTimeout(() => s.resume(), d.length / 2000)
  })
  s.on('end', () => (ended = true))
  s.on('error', () => undefined)
  // an HTTP/1.0 client: the body goes on until the close (an HTTP/1.1 one would get it chunked)
  s.write('GET /big HTTP/1.0\r\n\r\n')
  await waitUntil('the connection ended', () => ended || s.destroyed, 20_000)
  s.destroy()
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n'.length
  t.equal(got - head, size, 'every byte of the body')
})

/** Send raw bytes; resolve with what came back and how the connection ended (a clean end, or the error's code). */
function outcome(port: number, request: string): Promise<{ text: string; how: string }> {
  return new Promise((resolve) => {
    let text = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(request))
    s.on('data', (d) => (text += d.toString('latin1')))
    s.on('end', () => resolve({ text, how: 'clean end' }))
    s.on('error', (err: NodeJS.ErrnoException) => resolve({ text, how: err.code ?? 'error' }))
  })
}

t.test('an answer read until the node closes goes to an HTTP/1.1 client chunked, on a connection that stays open', async (t) => {
  const sender = await rawNode((s, n) => {
    if (n === 0)
      s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close') // framed by the close
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond')
  })
  const p = await startProxy({ x: [node('x', sender.port)] })
  t.teardown(async () => {
    await p.close()
    await sender.close()
  })
  const text = await exchange(p.port, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n', (s) => s.endsWith('second'))
  t.equal(
    text,
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nf\r\nuntil the close\r\n0\r\n\r\n' + 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond',
    'the first answer chunked and ended; the second on the same connection',
  )
})

t.test('an answer that ends with the connection, cut by its node: the client sees it cut, never a clean end of it', async (t) => {
  const node1 = await rawNode((s, n) => {
    // until the close, or chunked (which an HTTP/1.0 client gets de-chunked, until the close)
    s.write(n % 2 === 0 ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart of it' : 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\npart of it\r\n')
    setTimeout(() => s.resetAndDestroy(), 30)
  })
  const p = await startProxy({ x: [node('x', node1.port)] })
  t.teardown(async () => {
    await p.close()
    await node1.close()
  })
  // to an HTTP/1.0 client the close is the end of such an answer: only a reset says otherwise
  for (const [what, request] of [
    ['read until the close, to an HTTP/1.0 client', 'GET /a HTTP/1.0\r\n\r\n'],
    ['chunked, to an HTTP/1.0 client', 'GET /b HTTP/1.0\r\n\r\n'],
  ] as const) {
    const got = await outcome(p.port, request)
    t.match(got.text, /part of it$/, `${what}: what the node sent came through`)
    t.equal(got.how, 'ECONNRESET', `${what}: then a reset`)
  }
  // an HTTP/1.1 client gets it chunked: the missing last chunk says it is cut, and the close is a plain one
  const got = await outcome(p.port, 'GET /c HTTP/1.1\r\nHost: a\r\n\r\n')
  t.match(got.text, /Transfer-Encoding: chunked\r\n\r\na\r\npart of it\r\n$/, 'read until the close, to an HTTP/1.1 client: one chunk, no last one')
  t.equal(got.how, 'clean end', 'then the close')
})

t.test('pipelined answers queued for a client that is not reading: a later one cut by its node leaves the earlier ones whole', async (t) => {
  // the first answer is whole at cutover while the client reads nothing yet; the second's node
  // cuts it. A reset, or a close that drops what the socket still queues, loses the first's end
  const first = 'x'.repeat(256 * 1024)
  const nodeA = await rawNode((s, n) => {
    if (n % 2 === 0) s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${first.length}\r\n\r\n${first}`)
    else {
      s.write(n === 1 ? 'HTTP/1.1 200 OK\r\n\r\npart of it' : 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart of it')
      setTimeout(() => s.resetAndDestroy(), 30)
    }
  })
  const p = await startProxy({ x: [node('x', nodeA.port)] })
  t.teardown(async () => {
    await p.close()
    await nodeA.close()
  })
  for (const second of ['read until the close', 'Content-Length']) {
    const s = net.connect(p.port, '127.0.0.1')
    s.pause()
    let text = ''
    let how = ''
    s.on('data', (d) => (text += d.toString('latin1')))
    s.on('end', () => (how = 'clean end'))
    s.on('error', (err: NodeJS.ErrnoException) => (how = err.code ?? 'error'))
    s.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n')
    const finished = p.sink.calls.filter((c) => c[0] === 'finished').length
    // both answers are over at cutover (the second cut) before the client reads a byte
    await p.sink.waitFinished(finished + 2)
    s.resume()
    await waitUntil('the connection ended', () => how !== '', 5000)
    const firstAnswer = `HTTP/1.1 200 OK\r\nContent-Length: ${first.length}\r\n\r\n${first}`
    t.ok(text.startsWith(firstAnswer), `second answer ${second}: the first answer reached the client whole (${text.length} bytes read)`)
    t.match(text.slice(firstAnswer.length), /^HTTP\/1\.1 200 OK\r\n[\s\S]*part of it(\r\n)?$/, `second answer ${second}: then what there was of the second`)
    t.equal(how, 'clean end', 'then a close')
    s.destroy()
  }
})

t.test('a node that resets behind bytes cutover has not read yet (held back by a slow client): its answer read until the close is cut, not ended', async (t) => {
  // Node 20's libuv takes a reset that comes behind unread bytes for a plain end (a short
  // read and POLLHUP): cutover would write the last chunk of a cut answer
  let nodeSocket: net.Socket | null = null
  const node1 = await rawNode((s) => {
    nodeSocket = s
    s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${'u'.repeat(16 * 1024 * 1024)}`)
  })
  const p = await startProxy({ x: [node('x', node1.port)], proxy: { idle_timeout: 10_000 } })
  t.teardown(async () => {
    await p.close()
    await node1.close()
  })
  const s = net.connect(p.port, '127.0.0.1')
  t.teardown(() => s.destroy())
  s.pause()
  let text = ''
  let how = ''
  s.on('data', (d) => (text += d.toString('latin1')))
  s.on('end', () => (how = 'clean end'))
  s.on('error', (err: NodeJS.ErrnoException) => (how = err.code ?? 'error'))
  s.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n')
  // the client reads nothing: cutover stops reading the node, whose bytes stop moving
  let last = -1
  await waitUntil(
    'the node held back',
    () => {
      const left = nodeSocket?.writableLength ?? 0
      const still = left > 0 && left === last
      last = left
      return still
    },
    10_000,
    100,
  )
  // the node fails: its reset lands behind bytes cutover has not read
  nodeSocket!.resetAndDestroy()
  s.resume()
  await waitUntil('the connection ended', () => how !== '', 10_000)
  t.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Transfer-Encoding: chunked\r\n/, 'relayed chunked')
  t.notOk(text.endsWith('\r\n0\r\n\r\n'), `no last chunk: the client sees it cut (${text.length} bytes read)`)
  t.same(
    p.sink.calls.filter((c) => c[0] === 'attemptFailed').map((c) => c[2]),
    ['reset'],
    "the node's reset",
  )
})
