// A node connection reads into one reused buffer (upstream/connection.ts): a chunk the
// client socket could not take at once stays queued there while the node sends more, and
// must never be overwritten by the next read. A node that sends its body in small pieces
// to a client that reads nothing fills the client socket's queue under its high-water mark
// (writes still return true, the node is still read); the client then reads it all, and
// every byte must be the node's.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { waitUntil } from '../helpers/wait.js'
import { node, startProxy } from './fixtures.js'

const PIECE = 1024
const BODY = 24 * 1024 * 1024

t.test('bytes queued for a slow client are the node bytes, never a later read', async (t) => {
  const sent = createHash('sha256')
  let nodeSocket: net.Socket | null = null
  const upstream = net.createServer((socket) => {
    nodeSocket = socket
    socket.setNoDelay(true)
    socket.once('data', () => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY}\r\n\r\n`)
      let left = BODY
      const more = (): void => {
        // one small piece per turn, so the proxy reads them one by one
        while (left > 0) {
          const piece = randomBytes(Math.min(PIECE, left))
          left -= piece.length
          sent.update(piece)
          if (!socket.write(piece)) {
            socket.once('drain', more)
            return
          }
          if (left > 0) {
            setImmediate(more)
            return
          }
        }
      }
      more()
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as net.AddressInfo).port
  const proxy = await startProxy({ x: [node('x', port)] })
  t.teardown(async () => {
    await proxy.close()
    await new Promise<void>((resolve) => upstream.close(() => resolve()))
  })

  const client = net.connect(proxy.port, '127.0.0.1')
  client.pause()
  client.write('GET /big HTTP/1.1\r\nHost: t\r\n\r\n')
  // the client reads nothing until its connection in the proxy queues bytes and the node is
  // held back: both kernel buffers are full and pieces were queued while reads went on
  const conn = await waitUntil('the proxy queues bytes for the client', () => [...proxy.server.connections].find((c) => c.socket.writableLength > 0), 60_000)
  await waitUntil('the node is held back', () => nodeSocket !== null && nodeSocket.writableLength > 0, 60_000)
  t.ok(conn.socket.writableLength > 0)

  const got = createHash('sha256')
  let head: Buffer | null = Buffer.alloc(0)
  let bodyBytes = 0
  await new Promise<void>((resolve, reject) => {
    client.on('data', (chunk: Buffer) => {
      if (head !== null) {
        const all: Buffer = Buffer.concat([head, chunk])
        const end = all.indexOf('\r\n\r\n')
        if (end < 0) {
          head = all
          return
        }
        head = null
        chunk = all.subarray(end + 4)
      }
      got.update(chunk)
      bodyBytes += chunk.length
      if (bodyBytes >= BODY) resolve()
    })
    client.on('error', reject)
    client.on('close', () => reject(new Error(`closed after ${bodyBytes} body bytes`)))
    client.resume()
  })
  client.destroy()
  t.equal(bodyBytes, BODY)
  t.equal(got.digest('hex'), sent.digest('hex'), 'the body arrived byte for byte')
})
