// An h2 stream's deadlines are judged after the I/O the event loop has ready
// (src/h2/stream-exchange.ts #arm, Clock.afterIo).
import net from 'node:net'
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'

/** Holds the whole process (cutover with it) for ms, as a busy machine's scheduler can. */
function holdCore(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // nothing: the event loop is held
  }
}

t.test('an answer that came before request_timeout, unread while the process was held off its core, reaches the h2 client, not a 504', async (t) => {
  let held = 0
  const nodeServer = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      holdCore(400)
      held++
    })
  })
  await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve))
  const port = (nodeServer.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${port}`], y: [], proxy: '  request_timeout: 200ms' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await new Promise((resolve) => nodeServer.close(resolve))
  })
  const r = await h2Request(session, { ':path': '/' })
  t.equal(held, 1, 'the process was held once, after the node answered')
  t.equal(r.status, 200, 'the answer that came in time')
  t.equal(r.body, 'ok')
})
