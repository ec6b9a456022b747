// node:http2 heap use-after-free (Node 20): a server submits GOAWAY from a 'stream' handler (here for
// its first stream, as session.close() or goaway() would), and a later stream in the same read is
// closed with a code other than CANCEL from its own 'stream' handler. close() → Http2Stream::SubmitRstStream
// → SendPendingData sends the pending GOAWAY from inside nghttp2_session_mem_recv2; nghttp2 then
// closes and frees every stream above the GOAWAY's last stream id, the one it is still reading among them.
// Run: valgrind --undef-value-errors=no node goaway-uaf.mjs [rounds] [code]   (or plain: it may abort, "corrupted size vs. prev_size")
import http2 from 'node:http2'
const ROUNDS = Number(process.argv[2] ?? 20)
const CODE = Number(process.argv[3] ?? http2.constants.NGHTTP2_REFUSED_STREAM)
const server = http2.createServer()
server.on('session', (session) => {
  session.on('error', () => {})
  let first = true
  session.on('stream', (stream) => {
    stream.on('error', () => {})
    if (first) {
      first = false
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id)
      stream.respond({ ':status': 200 }, { endStream: true })
      return
    }
    stream.close(CODE)
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
server.close()
console.log('done', process.version)
process.exit(0)
