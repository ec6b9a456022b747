// The race an HTTP/2 server's idle timeout runs on Node 20: session.close() from a timer while
// the client's next request (HEADERS) already waits in the socket. Timers run before the poll
// phase reads it, and the GOAWAY close() submitted goes out in the check phase after: the read
// finds the session closed, Node refuses the stream with rstStream(REFUSED_STREAM) from inside
// nghttp2_session_mem_recv2, Node 20 flushes the GOAWAY there, and nghttp2 frees the stream it
// is reading (valgrind: invalid reads in nghttp2_session_mem_recv2). Here the client is a raw
// socket in the same process, so that its HEADERS are in the server's socket when close() runs.
// MODE=gentle: session.goaway() then session.close() with setImmediate (the GOAWAY is out
// before the session counts closed): no invalid read.
// Run: valgrind --undef-value-errors=no node timer-close-uaf.mjs [rounds]
import http2 from 'node:http2'
import net from 'node:net'
const ROUNDS = Number(process.argv[2] ?? 20)
const gentle = process.env.MODE === 'gentle'
const frame = (type, flags, id, payload) => {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(id, 5)
  return Buffer.concat([head, payload])
}
// :method GET, :scheme http, :path /, :authority a
const GET = Buffer.from([0x82, 0x86, 0x84, 0x41, 0x01, 0x61])
const server = http2.createServer()
let current
server.on('session', (session) => {
  session.on('error', () => {})
  current = session
})
server.on('stream', (stream) => {
  stream.on('error', () => {})
  stream.respond({ ':status': 200 }, { endStream: true })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
for (let i = 0; i < ROUNDS; i++) {
  current = undefined
  const socket = net.connect(server.address().port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  await new Promise((r) => socket.once('connect', r))
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]))
  while (current === undefined) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 20))
  // a timer, as an idle timeout would be: the request is written, then the session closed
  await new Promise((r) =>
    setTimeout(() => {
      socket.write(Buffer.concat([frame(1, 0x5, 1, GET), frame(1, 0x5, 3, GET), frame(1, 0x5, 5, GET)]))
      const session = current
      if (gentle) {
        session.goaway()
        setImmediate(() => session.close())
      } else session.close()
      r()
    }, 1),
  )
  await new Promise((r) => setTimeout(r, 50))
  socket.destroy()
}
console.log('done', process.version, gentle ? 'gentle' : 'close()')
process.exit(0)
