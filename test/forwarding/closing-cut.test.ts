// An answer whose end is the connection's close (to an HTTP/1.0 client: read until the node
// closes, or chunked and relayed de-chunked),
// whole at its node but still queued in cutover for a client that is not reading, when the
// connection is cut: at drain_timeout, or when its last bytes stood still for idle_timeout.
// What the client read must not look whole: a reset, never a FIN after a short body.
// A Node client does not always see the reset (libuv reports a plain end when the RST
// comes behind bytes it has not read: a short read and POLLHUP; a client reading with
// recv sees ECONNRESET), so, as connection-fuzz's judge, the test takes cutover's word.
import t, { type Test } from 'tap'
import net from 'node:net'
import { FakeClock } from '../../src/clock.js'
import { ClientConnection } from '../../src/forwarding/client-connection.js'
import { Phase } from '../../src/forwarding/phase.js'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { node, startProxy, type TestProxy } from './fixtures.js'

const IDLE = 300
const HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'
const PIECE = Buffer.alloc(32 * 1024, 'a')

// the client connections cutover cut with a reset
const resets = new Set<ClientConnection>()
const reset = ClientConnection.prototype.reset
ClientConnection.prototype.reset = function (this: ClientConnection) {
  resets.add(this)
  reset.call(this)
}
t.teardown(() => {
  ClientConnection.prototype.reset = reset
})

/**
 * An HTTP/1.0 GET whose answer (no length: read until the node closes; or chunked) the
 * client does not read: the node sends pieces until cutover holds some of it unsent (the
 * kernel's buffers full), then ends it. Resolves once the exchange is over and the
 * connection closing with bytes still queued.
 */
async function queuedAnswer(t: Test, p: TestProxy, nodeSocket: Promise<net.Socket>, chunked: boolean) {
  const client = net.connect(p.port, '127.0.0.1')
  t.teardown(() => client.destroy())
  client.pause()
  let end = 'fin'
  client.on('error', (err: NodeJS.ErrnoException) => (end = err.code ?? err.message))
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
  client.write('GET /big HTTP/1.0\r\n\r\n')
  const s = await nodeSocket
  const conn = await waitUntil('the connection', () => [...p.server.connections][0] as ClientConnection | undefined, 3000)
  s.write(chunked ? HEAD.replace('\r\n\r\n', '\r\nTransfer-Encoding: chunked\r\n\r\n') : HEAD)
  let sent = 0
  // bounded: the kernel's buffers on loopback hold a few MB at most
  for (let i = 0; i < 2000 && conn.unsent() === 0; i++) {
    s.write(chunked ? Buffer.concat([Buffer.from(`${PIECE.length.toString(16)}\r\n`), PIECE, Buffer.from('\r\n')]) : PIECE)
    sent += PIECE.length
    // cutover read it (the node's socket is empty) and wrote it on
    await waitUntil('the node’s piece read', () => s.writableLength === 0, 3000, 1)
    await new Promise((r) => setTimeout(r, 2))
  }
  if (chunked) s.end('0\r\n\r\n')
  else s.end()
  await waitUntil('the answer whole at cutover', () => conn.exchange === null && conn.phase === Phase.Closing, 3000)
  const queued = conn.unsent()
  t.ok(queued > 0, `cutover still holds ${queued} bytes of the answer`)
  let got = 0
  client.on('data', (d: Buffer) => (got += d.length))
  return {
    conn,
    /** read everything; resolve with the body bytes read and how the connection ended */
    async read(): Promise<{ bytes: number; end: string; sent: number }> {
      client.resume()
      await closed
      return { bytes: got - (HEAD.length + 'Connection: close\r\n'.length), end: resets.has(conn) ? 'reset by cutover' : end, sent }
    },
  }
}

function nodeServer() {
  let resolveSocket: (s: net.Socket) => void = () => undefined
  const socket = new Promise<net.Socket>((resolve) => (resolveSocket = resolve))
  return { socket, start: () => startRawServer((s) => s.once('data', () => resolveSocket(s))) }
}

t.test('at drain_timeout, an answer whose end is the close, still queued for a client that does not read, is cut with a reset', async (t) => {
  for (const chunked of [false, true]) {
    const n = nodeServer()
    const raw = await n.start()
    const p = await startProxy({ x: [node('x', raw.port)] })
    t.teardown(async () => {
      await p.close()
      await raw.close()
    })
    const a = await queuedAnswer(t, p, n.socket, chunked)
    // drain_timeout passed (cutover's shutdown cuts every connection)
    p.server.closeAllConnections()
    const r = await a.read()
    const what = chunked ? 'de-chunked' : 'read until the close'
    t.ok(r.bytes === r.sent || r.end !== 'fin', `${what}: not ended as if whole: ${r.bytes} of ${r.sent} body bytes, then ${r.end}`)
    t.not(r.bytes, r.sent, `${what}: the answer was cut short (else this test shows nothing)`)
  }
})

t.test('the last bytes of an answer read until the close, standing still for idle_timeout, are cut with a reset', async (t) => {
  const n = nodeServer()
  const raw = await n.start()
  const clock = new FakeClock()
  const p = await startProxy({ x: [node('x', raw.port)], clock, proxy: { idle_timeout: IDLE } })
  t.teardown(async () => {
    await p.close()
    await raw.close()
  })
  const a = await queuedAnswer(t, p, n.socket, false)
  clock.advance(IDLE + 1)
  await waitUntil('the connection cut', () => a.conn.socket.destroyed, 3000)
  const r = await a.read()
  t.ok(r.bytes === r.sent || r.end !== 'fin', `not ended as if whole: ${r.bytes} of ${r.sent} body bytes, then ${r.end}`)
  t.not(r.bytes, r.sent, 'the answer was cut short (else this test shows nothing)')
})
