// The h2 bench's upstream, its own process: an h2c server (node:http2) on the port in argv[2].
// GET: 100 bytes. POST (a gRPC unary call): the request read and discarded, then one gRPC
// message and the trailers grpc-status 0 — what a gRPC server sends.
import http2 from 'node:http2'

const port = Number(process.argv[2])
const BODY = Buffer.alloc(100, 0x61)
const MESSAGE = Buffer.concat([Buffer.from([0, 0, 0, 0, 10]), Buffer.alloc(10, 0x62)])
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } })
server.on('stream', (stream, headers) => {
  stream.on('error', () => {})
  if (headers[':method'] === 'GET') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': 100 })
    stream.end(BODY)
    return
  }
  stream.resume()
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
    stream.end(MESSAGE)
  })
})
server.listen(port, '127.0.0.1')
// the bench's pipe closing means it is gone
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
