// A stream still open when drain_timeout passes (2 s in the tests; an event stream, a gRPC
// server stream) is cut visibly: Node's session.destroy() reset every open stream with
// NO_ERROR, which a client (Node's among them) reads as the stream's clean end: an event
// stream cut at shutdown looked like one its node had ended. (The reset of the session's
// first stream reaches the client before the socket closes; a later one's may not.)
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { startH2Upstream } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

t.test('an event stream open at the drain timeout is reset with an error code, not ended', async (t) => {
  const node = await startH2Upstream('x', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' })
    const timer = setInterval(() => stream.write('data: x\n\n'), 100)
    stream.on('close', () => clearInterval(timer))
  })
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.destroy()
    await node.close()
  })
  const req = session.request({ ':path': '/events' })
  // a second stream open beside it
  const other = session.request({ ':path': '/other' })
  other.on('error', () => undefined)
  other.resume()
  req.on('error', () => undefined)
  let received = 0
  let ended = false
  req.on('data', (d: Buffer) => (received += d.length))
  req.on('end', () => (ended = true))
  const closed = new Promise<number | undefined>((resolve) => req.on('close', () => resolve(req.rstCode)))
  await waitUntil('the first event', () => received > 0, 5000)
  await c.cutover.close()
  const rstCode = await closed
  t.notOk(ended && rstCode === http2.constants.NGHTTP2_NO_ERROR, `not read as a clean end (end: ${ended}, rstCode: ${rstCode})`)
})
