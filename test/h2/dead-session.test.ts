// A client that breaks the protocol in a way nghttp2 ends the session for (DATA on a stream it
// had ended: GOAWAY STREAM_CLOSED), then leaves. Node 24 destroys such a session; Node 20's
// nghttp2 just stops reading it, so the client's FIN went unheard: the socket stayed in
// CLOSE-WAIT and the stream in flight (its node request with it) for ever. A silent session
// is now sent a PING after idle_timeout and destroyed when it does not answer.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { H2_GET, H2_PREFACE, h2Frame, onFrames, DATA, HEADERS, SETTINGS, GOAWAY, END_STREAM, END_HEADERS } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const IDLE_MS = 500

t.test('a session nghttp2 ended for a connection error is closed once its client leaves', async (t) => {
  // a node that never answers: the stream stays in flight (request_timeout is long)
  let requests = 0
  const node = http.createServer(() => {
    requests++
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const nodePort = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${nodePort}`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms\n  request_timeout: 60s` })
  const socket = net.connect(c.cutover.proxyAddress.port, '127.0.0.1')
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => undefined)
  let goaway = -1
  onFrames(socket, ({ type, payload }) => {
    if (type === GOAWAY) goaway = payload.readUInt32BE(4)
  })
  let closed = false
  socket.once('close', () => (closed = true))
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_STREAM | END_HEADERS, 1, H2_GET)]))
  await waitUntil('the request at the node', () => requests === 1, 5000)
  // a DATA frame on the stream the client ended: a connection error
  socket.write(h2Frame(DATA, END_STREAM, 1, Buffer.from('x')))
  await waitUntil('the GOAWAY', () => goaway >= 0, 5000)
  t.not(goaway, 0, `GOAWAY with an error code (${goaway})`)
  // the client leaves (its FIN); cutover must close its side, and drop the request
  socket.end()
  await waitUntil('cutover closed the connection', () => closed, 10 * IDLE_MS)
  t.pass('closed')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 10 * IDLE_MS)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${nodePort}",kind="timeout"}`), 0, 'the node is not blamed')
})
