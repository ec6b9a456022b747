// node:http2 heap use-after-free on Node 20 with no stream.close() in user code: a server calls
// session.close() (GOAWAY submitted, not yet written) while the peer's next HEADERS are in the
// same read. Node's own onSessionHeaders refuses a stream on a closed session with
// rstStream(REFUSED_STREAM) from inside nghttp2_session_mem_recv2; Node 20's SubmitRstStream
// flushes the pending GOAWAY there and nghttp2 frees the stream it is reading.
// Here session.close() runs in the first stream's 'stream' handler; a timer (an idle timeout)
// that fires just before the read does the same.
// Run: valgrind --undef-value-errors=no node close-uaf.mjs [rounds]
import http2 from 'node:http2'
const ROUNDS = Number(process.argv[2] ?? 20)
const server = http2.createServer()
server.on('session', (session) => {
  session.on('error', () => {})
  let first = true
  session.on('stream', (stream) => {
    stream.on('error', () => {})
    stream.respond({ ':status': 200 }, { endStream: true })
    if (first) {
      first = false
      session.close()
    }
  })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
for (let i = 0; i < ROUNDS; i++) {
  const client = http2.connect(`http://127.0.0.1:${server.address().port}`)
  client.on('error', () => {})
  // several HEADERS in one write: the server reads them in one nghttp2_session_mem_recv2
  const done = Array.from(
    { length: 5 },
    () =>
      new Promise((resolve) => {
        const req = client.request({ ':path': '/' })
        req.on('error', () => {})
        req.resume()
        req.on('close', resolve)
      }),
  )
  await Promise.all(done)
  client.close()
}
console.log('done', process.version)
process.exit(0)
