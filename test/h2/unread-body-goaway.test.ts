// cutover answers a request whose body it never read (its node could not be reached: a 502)
// and ends the stream with RST_STREAM(NO_ERROR); the body bytes that had come meanwhile
// waited, paused, in the stream. Node destroys a stream closed with NO_ERROR only once its
// readable side ended, which a paused stream with bytes in it never does: the stream stayed
// open in the session for ever. When the client then said GOAWAY and left, the session (in
// its graceful close) waited on that stream, nghttp2 read no more (no stream of its own
// open, GOAWAY heard) and the client's FIN went unheard: the connection was never closed
// (found by the h2 fuzz, test/h2/h2-fuzz.test.ts, hanging on connection 73 of its seed).
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, GOAWAY, H2_PREFACE, HEADERS, h2Frame, hpackLiteral, onFrames, RST_STREAM, SETTINGS } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

t.test('a stream answered with its body unread ends, and its session with it once the client leaves', async (t) => {
  // a port nobody listens on: the node is unreachable, the answer cutover's 502
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
  // long deadlines: neither the PING probe nor a keepalive timer may be what closes it
  const c = await startTestCutover({ x: [`http://127.0.0.1:${closedPort}`], y: [], proxy: '  retries: 0\n  idle_timeout: 60s\n  keepalive_timeout: 60s\n  request_timeout: 60s' })
  const socket = net.connect(c.cutover.proxyAddress.port, '127.0.0.1')
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => undefined)
  let status = ''
  let rst = -1
  onFrames(socket, ({ type, stream, payload }) => {
    if (type === HEADERS && stream === 1) status = payload.toString('latin1')
    if (type === RST_STREAM && stream === 1) rst = payload.readUInt32BE(0)
  })
  let closed = false
  socket.once('close', () => (closed = true))
  const head = Buffer.concat([hpackLiteral(':method', 'PUT'), Buffer.from([0x86, 0x84]), hpackLiteral(':authority', 'a'), hpackLiteral('content-length', '60000')])
  const part = Buffer.alloc(16_000, 0x61)
  // the body's first bytes in the same read as its head: they wait in the paused stream
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, head), h2Frame(DATA, 0, 1, part), h2Frame(DATA, 0, 1, part)]))
  await waitUntil('cutover answered and reset the stream', () => rst >= 0 || undefined, 5000)
  t.equal(rst, 0, 'RST_STREAM(NO_ERROR) after the answer')
  t.not(status, '', 'an answer head came first')
  // the client says GOAWAY and leaves
  const goaway = Buffer.alloc(8)
  socket.end(h2Frame(GOAWAY, 0, 0, goaway))
  await waitUntil('cutover closed the connection', () => closed || undefined, 3000).catch(() => undefined)
  t.ok(closed, 'cutover closed its side once the client left')
})
