// A client that leaves while its request is answered is noticed at once, whatever its
// body's size. A body the node's socket did not take in one go (over its 16 KiB buffer)
// paused the client socket, and nothing resumed it once the body was whole: the client's
// FIN went unread. Its socket sat in CLOSE-WAIT and the node went on with the request
// until idle_timeout (60 s by default) or the answer's end; at shutdown it held the drain.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { waitUntil } from '../helpers/wait.js'
import { close, listen, node, startProxy } from './fixtures.js'

for (const size of [100, 64 * 1024]) {
  t.test(`a client that leaves while its ${size}-byte upload is answered: the node's request is cut at once`, async (t) => {
    let nodeRequestClosed = false
    // reads the whole body, starts the answer, never ends it
    const upstream = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-length': '100' })
        res.write('the first part')
      })
      res.on('close', () => (nodeRequestClosed = true))
    })
    const port = await listen(upstream)
    const p = await startProxy({ x: [node('x', port)], proxy: { idle_timeout: 60_000 } })
    t.teardown(async () => {
      await p.close()
      await close(upstream)
    })
    const client = net.connect(p.port, '127.0.0.1')
    client.on('error', () => undefined)
    client.write(`POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: ${size}\r\n\r\n`)
    client.write(Buffer.alloc(size, 'b'))
    await new Promise((resolve) => client.once('data', resolve))
    client.end()
    await waitUntil("the node's request closed", () => nodeRequestClosed, 5000)
    await waitUntil('the client connection closed', () => p.server.connections.size === 0, 5000)
    t.pass('the client was seen to leave')
  })
}
