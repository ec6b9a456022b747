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
  s.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n')
  await waitUntil('the connection ended', () => ended || s.destroyed, 20_000)
  s.destroy()
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n'.length
  t.equal(got - head, size, 'every byte of the body')
})

t.test('an answer that ends with the connection, cut by its node: the client sees a reset, never a clean end', async (t) => {
  const node1 = await rawNode((s, n) => {
    // until the close, or chunked (which an HTTP/1.0 client gets de-chunked, until the close)
    s.write(n === 0 ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart of it' : 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\npart of it\r\n')
    setTimeout(() => s.resetAndDestroy(), 30)
  })
  const p = await startProxy({ x: [node('x', node1.port)] })
  t.teardown(async () => {
    await p.close()
    await node1.close()
  })
  for (const [what, request] of [
    ['read until the close', 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['chunked, to an HTTP/1.0 client', 'GET /b HTTP/1.0\r\n\r\n'],
  ] as const) {
    const outcome = await new Promise<{ text: string; how: string }>((resolve) => {
      let text = ''
      const s = net.connect(p.port, '127.0.0.1', () => s.write(request))
      s.on('data', (d) => (text += d.toString('latin1')))
      s.on('end', () => resolve({ text, how: 'clean end' }))
      s.on('error', (err: NodeJS.ErrnoException) => resolve({ text, how: err.code ?? 'error' }))
    })
    t.match(outcome.text, /part of it$/, `${what}: what the node sent came through`)
    t.equal(outcome.how, 'ECONNRESET', `${what}: then a reset`)
  }
})
