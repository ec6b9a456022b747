// Request bodies on their way to the node (issue 10, "Uploads: the slow mode" in
// bench/README.md). A fresh Buffer per read of an upload costs V8 a full mark-compact
// every ~64 MiB (each counts as external memory), about half of the proxy's CPU on 1 MiB
// uploads; body reads are to go into a reused buffer (upstream/read-buffers.ts ReadSlot)
// lent to the node socket while that socket queues its bytes (Exchange.bodyHolder).
// The first test guards the bytes whichever way they are read: the body comes in small
// pieces, and the node takes nothing until the proxy's socket to it queues body bytes (a
// write still returns true while that queue is under 16 KiB, so the client is read on:
// a reused buffer not lent to the node socket would be overwritten under its queue);
// the second counts the buffers the body was read into.
import t, { type Test } from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { Exchange } from '../../src/forwarding/exchange.js'
import { waitUntil } from '../helpers/wait.js'
import { close, listen, node, startProxy } from './fixtures.js'

const BODY = 16 * 1024 * 1024

/** A node that answers every request with the length and SHA-256 of its body; `hold` pauses reading bodies until released. */
async function hashingNode(t: Test, hold: boolean): Promise<{ port: number; release: () => void }> {
  const held: http.IncomingMessage[] = []
  let holding = hold
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256')
    let n = 0
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      n += chunk.length
    })
    req.on('end', () => res.end(`${n} ${hash.digest('hex')}`))
    if (holding) {
      req.pause()
      held.push(req)
    }
  })
  const port = await listen(server)
  t.teardown(() => close(server))
  return {
    port,
    release: () => {
      holding = false
      for (const req of held) req.resume()
    },
  }
}

/**
 * Send a POST of `body` and then a pipelined GET; resolves both answers' bodies. Small
 * pieces go one per turn of the event loop, so the proxy reads them one by one.
 */
function uploadThenGet(port: number, body: Buffer, piece: number): Promise<[string, string]> {
  return new Promise((resolve, reject) => {
    const client = net.connect(port, '127.0.0.1')
    const answers: string[] = []
    let buf = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? -1)
        if (length < 0 || buf.length < end + 4 + length) return
        answers.push(buf.subarray(end + 4, end + 4 + length).toString('latin1'))
        buf = buf.subarray(end + 4 + length)
        if (answers.length === 2) {
          client.destroy()
          resolve([answers[0]!, answers[1]!])
          return
        }
      }
    })
    client.on('error', reject)
    client.on('close', () => reject(new Error(`closed after ${answers.length} answers`)))
    client.write(`POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`)
    let at = 0
    const more = (): void => {
      while (at < body.length) {
        const bytes = body.subarray(at, at + piece)
        at += bytes.length
        if (!client.write(bytes)) {
          client.once('drain', more)
          return
        }
        if (piece < 16 * 1024 && at < body.length) {
          setImmediate(more)
          return
        }
      }
      client.write('GET /after HTTP/1.1\r\nHost: t\r\n\r\n')
    }
    more()
  })
}

const digest = (body: Buffer): string => `${body.length} ${createHash('sha256').update(body).digest('hex')}`

t.test('an upload the node cannot take at once arrives byte for byte, and the request pipelined after it too', async (t) => {
  const upstream = await hashingNode(t, true)
  const proxy = await startProxy({ x: [node('x', upstream.port)] })
  t.teardown(() => proxy.close())
  const body = randomBytes(BODY)
  const answers = uploadThenGet(proxy.port, body, 1024)
  // the node reads nothing until the proxy's socket to it queues body bytes
  await waitUntil('the node socket queues body bytes', () => [...proxy.server.connections].some((c) => c.exchange?.bodyHolder() != null), 60_000)
  upstream.release()
  const [upload, after] = await answers
  t.equal(upload, digest(body), 'the node got the body byte for byte')
  t.equal(after, `0 ${createHash('sha256').digest('hex')}`, 'the next request was answered')
})

t.test('an upload is read into a few reused buffers, not a fresh one per read', async (t) => {
  const upstream = await hashingNode(t, false)
  const proxy = await startProxy({ x: [node('x', upstream.port)] })
  const sendBody = Exchange.prototype.sendBody
  const buffers = new Set<ArrayBufferLike>()
  let pieces = 0
  let queued = 0
  Exchange.prototype.sendBody = function (this: Exchange, piece: Buffer): boolean {
    buffers.add(piece.buffer)
    pieces++
    const ok = sendBody.call(this, piece)
    if (this.bodyHolder() !== null) queued++
    return ok
  }
  t.teardown(() => {
    Exchange.prototype.sendBody = sendBody
    return proxy.close()
  })
  const body = randomBytes(BODY)
  const [upload] = await uploadThenGet(proxy.port, body, 64 * 1024)
  t.equal(upload, digest(body), 'the node got the body byte for byte')
  t.ok(pieces >= BODY / (128 * 1024), `the body went in ${pieces} reads`)
  // a new buffer only when the node socket kept the last one; besides: the copy of the
  // body's start (read with the head), a slot's small first buffer and its first full one
  t.ok(buffers.size <= queued + 3, `read into ${buffers.size} distinct buffers; the node socket queued ${queued} times`)
})
