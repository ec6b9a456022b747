// An HTTP/2 client that reads an answer slowly (its flow-control window opens a little at a
// time) is not cut while the stream's backlog shrinks, however long the whole answer takes;
// one that opens nothing for idle_timeout is cut, and the node is not blamed.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { H2_GET, H2_PREFACE, h2Frame, onFrames, DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, END_STREAM, END_HEADERS, SETTINGS_INITIAL_WINDOW_SIZE, windowUpdate } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const IDLE_MS = 2000
/**
 * the window the client opens at a time, and how often: 20 KB/s. cutover's queue for the
 * stream (a read of the node's, up to 128 KiB) takes several idle_timeouts to go at that pace
 */
const STEP_BYTES = 2048
const STEP_MS = 100

t.test('a slow HTTP/2 reader is not cut while its backlog shrinks; one that opens no window for idle_timeout is', async (t) => {
  const size = 4 * 1024 * 1024
  const node = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': size })
    res.end(Buffer.alloc(size, 'a'))
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const nodePort = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${nodePort}`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  const socket = net.connect(c.cutover.proxyAddress.port, '127.0.0.1')
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => undefined)
  let answered = false
  let received = 0
  let reset: number | undefined
  let goaway = false
  onFrames(socket, ({ type, stream, payload }) => {
    if (stream === 1 && type === HEADERS) answered = true
    if (stream === 1 && type === DATA) received += payload.length
    if (stream === 1 && type === RST_STREAM) reset = payload.readUInt32BE(0)
    if (type === GOAWAY) goaway = true
  })
  // no window for the answer's body until the client opens one
  const settings = Buffer.alloc(6)
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE)
  settings.writeUInt32BE(0, 2)
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0, settings), h2Frame(HEADERS, END_STREAM | END_HEADERS, 1, H2_GET)]))
  await waitUntil('the answer’s head', () => answered, 5000)

  // two idle_timeouts of reading 20 KB/s
  const until = performance.now() + 2 * IDLE_MS
  while (performance.now() < until && reset === undefined && !goaway) {
    socket.write(Buffer.concat([windowUpdate(1, STEP_BYTES), windowUpdate(0, STEP_BYTES)]))
    await new Promise((r) => setTimeout(r, STEP_MS))
  }
  t.equal(reset, undefined, `not cut while reading slowly (${received} bytes in ${2 * IDLE_MS} ms)`)
  t.notOk(goaway, 'the session goes on')
  t.ok(received >= 2 * STEP_BYTES, 'the body moved')

  // then the client opens nothing more
  await waitUntil('the stream reset', () => reset !== undefined, 3 * IDLE_MS)
  t.ok(received < size, 'cut before the end')
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${nodePort}",kind="timeout"}`), 0, 'the node is not blamed')
})
