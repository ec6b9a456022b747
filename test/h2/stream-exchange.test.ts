// An h2 stream's deadlines are judged after the I/O the event loop has ready
// (src/h2/stream-exchange.ts #arm, Clock.afterIo).
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { answerThenHold } from '../helpers/hold.js'

t.test('an answer that came before request_timeout, unread while the process was held off its core, reaches the h2 client, not a 504', async (t) => {
  const n = await answerThenHold(400)
  const c = await startTestCutover({ x: [`http://127.0.0.1:${n.port}`], y: [], proxy: '  request_timeout: 200ms' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await n.close()
  })
  const r = await h2Request(session, { ':path': '/' })
  t.equal(n.held(), 1, 'the process was held once, after the node answered')
  t.equal(r.status, 200, 'the answer that came in time')
  t.equal(r.body, 'ok')
})
