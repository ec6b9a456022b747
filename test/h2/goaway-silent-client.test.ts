// A client that sent GOAWAY still waits for the answers of the streams it opened before it
// (RFC 9113 6.8), and a session it sent GOAWAY cannot be sent a PING: node:http2 cancels one
// at once (session.ping() returns no boolean, its callback gets ERR_HTTP2_PING_CANCEL). The
// silent-session check read that as no answer at all and destroyed the session at once, so
// a client waiting quietly after its GOAWAY for an answer slower than idle_timeout lost it.
// Now such a session is given another idle_timeout, and bytes read from the client are its
// sign of life; a client that stays silent after its GOAWAY is still closed by then.
import http from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, END_STREAM, GOAWAY, goawayFrame, H2_GET, H2_PREFACE, h2Frame, HEADERS, NO_ERROR, onFrames, RST_STREAM, SETTINGS } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const IDLE_MS = 500

/** A node that holds each request until answer() is called; a cutover in front of it; a raw client with one stream open and then GOAWAY. */
async function setUp(t: Test) {
  const held: http.ServerResponse[] = []
  const node = http.createServer((_req, res) => {
    held.push(res)
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
  const read = { closed: false, status: false, ended: false, reset: -1, goaway: false }
  socket.once('close', () => (read.closed = true))
  // the client reads (so cutover's writes never wait) but sends nothing back: no SETTINGS ACK, no PING ACK, no WINDOW_UPDATE
  onFrames(socket, (f) => {
    if (f.stream === 1 && f.type === HEADERS) read.status = true
    if (f.stream === 1 && (f.type === DATA || f.type === HEADERS) && (f.flags & END_STREAM) !== 0) read.ended = true
    if (f.stream === 1 && f.type === RST_STREAM) read.reset = f.payload.readUInt32BE(0)
    if (f.type === GOAWAY) read.goaway = true
  })
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_STREAM | END_HEADERS, 1, H2_GET)]))
  await waitUntil('the request at the node', () => held.length === 1, 5000)
  // a client's GOAWAY names the last stream the server opened (none: 0); stream 1 goes on
  socket.write(goawayFrame(0, NO_ERROR))
  return { c, read, answer: () => held[0]!.end('ok') }
}

t.test('a client silent after its GOAWAY still gets an answer that comes after idle_timeout, within another', async (t) => {
  const { read, answer } = await setUp(t)
  // the session is silent from the GOAWAY on; the answer comes halfway into the second idle_timeout
  await new Promise((r) => setTimeout(r, IDLE_MS * 1.5))
  answer()
  await waitUntil('the answer, or the connection closed', () => read.ended || read.closed || read.reset >= 0, 10 * IDLE_MS)
  t.ok(read.status && read.ended, `the answer came whole (reset: ${read.reset}, connection closed: ${read.closed})`)
})

t.test('a client silent after its GOAWAY, with a stream open, loses its session within the silent-session limit', async (t) => {
  const { c, read } = await setUp(t)
  const sent = Date.now()
  await waitUntil('cutover closed the connection', () => read.closed, 10 * IDLE_MS)
  t.ok(Date.now() - sent >= IDLE_MS, 'not before the session was silent for idle_timeout')
  t.notOk(read.ended, 'the stream was not made to look answered')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 10 * IDLE_MS)
  t.pass('the request is no longer in flight')
})
