// An HTTP/2 client that opens no flow-control window for an answer its node has already
// ended (the whole body is in cutover's queue for the stream) is cut after idle_timeout, as
// one that stops reading mid-answer: the stream, and the connection under it, were held for
// ever (the exchange was over, nothing watched the queue), and the node is not blamed.
import http from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import {
  H2_GET,
  H2_PREFACE,
  h2Frame,
  onFrames,
  startH2Upstream,
  DATA,
  HEADERS,
  RST_STREAM,
  SETTINGS,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  END_STREAM,
  END_HEADERS,
  ACK,
  SETTINGS_INITIAL_WINDOW_SIZE,
} from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const IDLE_MS = 1000
const BODY = 1000

/**
 * Asks for / with a window of 0 and never opens it (ended: the request has no body; else
 * its body stays open after one DATA frame), or opens it by `window` bytes once; resolves
 * with what the client read once the stream or connection ended.
 */
async function unreadAnswer(port: number, ended = true, window = 0): Promise<{ answered: boolean; received: number; endStream: boolean; cut: string }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let answered = false
  let received = 0
  let endStream = false
  let cut = ''
  onFrames(socket, ({ type, flags, stream, payload }) => {
    // a live client: it answers cutover's PINGs (a silent session is asked for one)
    if (type === PING && (flags & ACK) === 0) socket.write(h2Frame(PING, ACK, 0, payload))
    if (stream === 1 && type === HEADERS) answered = true
    if (stream === 1 && type === DATA) received += payload.length
    if (stream === 1 && (type === DATA || type === HEADERS) && (flags & END_STREAM) !== 0) endStream = true
    if (stream === 1 && type === RST_STREAM) cut ||= `RST_STREAM ${payload.readUInt32BE(0)}`
    if (type === GOAWAY) cut ||= `GOAWAY ${payload.readUInt32BE(4)}`
  })
  socket.once('close', () => {
    cut ||= 'connection closed'
  })
  const settings = Buffer.alloc(6)
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE)
  settings.writeUInt32BE(0, 2)
  const request = ended ? [h2Frame(HEADERS, END_STREAM | END_HEADERS, 1, H2_GET)] : [h2Frame(HEADERS, END_HEADERS, 1, H2_GET), h2Frame(DATA, 0, 1, Buffer.from('abc'))]
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0, settings), ...request]))
  if (window > 0) {
    // a window for the body and not a byte more
    const increment = Buffer.alloc(4)
    increment.writeUInt32BE(window)
    socket.write(h2Frame(WINDOW_UPDATE, 0, 1, increment))
  }
  try {
    await waitUntil('the stream ended or cut', () => cut !== '' || endStream, 5 * IDLE_MS)
  } finally {
    socket.destroy()
  }
  return { answered, received, endStream, cut }
}

t.test('an HTTP/1.1 node’s whole answer, never read by the client', async (t) => {
  const node = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': BODY })
    res.end(Buffer.alloc(BODY, 'a'))
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const nodePort = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${nodePort}`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  t.teardown(async () => {
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  const seen = await unreadAnswer(c.cutover.proxyAddress.port)
  t.ok(seen.answered, 'the head came')
  t.notOk(seen.endStream, 'never read as whole')
  t.equal(seen.received, 0, 'no body went (no window)')
  t.ok(seen.cut !== '', `cut: ${seen.cut}`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${nodePort}",kind="timeout"}`), 0, 'the node is not blamed')
})

/** A cutover in front of an h2 node that answers BODY bytes at once and ends its stream. */
async function h2NodeCutover(t: Test): Promise<TestCutover> {
  const node = await startH2Upstream('x', (stream) => {
    stream.respond({ ':status': 200, 'content-length': String(BODY) })
    stream.end(Buffer.alloc(BODY, 'a'))
  })
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  t.teardown(async () => {
    await c.cutover.close()
    await node.close()
  })
  return c
}

t.test('an h2 node’s whole answer, never read by the client', async (t) => {
  const c = await h2NodeCutover(t)
  const seen = await unreadAnswer(c.cutover.proxyAddress.port)
  t.ok(seen.answered, 'the head came')
  t.notOk(seen.endStream, 'never read as whole')
  t.equal(seen.received, 0, 'no body went (no window)')
  t.ok(seen.cut !== '', `cut: ${seen.cut}`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:1",kind="timeout"}`), 0, 'the node is not blamed')
})

t.test('an answer before the request body was whole, never read by the client', async (t) => {
  // the node answers at the head and ends its side: the client is to stop sending once it read the answer
  const c = await h2NodeCutover(t)
  const seen = await unreadAnswer(c.cutover.proxyAddress.port, false)
  t.ok(seen.answered, 'the head came')
  t.notOk(seen.endStream, 'never read as whole')
  t.equal(seen.received, 0, 'no body went (no window)')
  t.ok(seen.cut !== '', `cut: ${seen.cut}`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:1",kind="timeout"}`), 0, 'the node is not blamed')
})

t.test('an answer whose client opened a window for its body and not a byte more', async (t) => {
  // cutover ends every answer with an empty DATA frame (END_STREAM, or trailers after it
  // when the node sends some), and nghttp2 holds even an empty one while the window is 0:
  // the client had the whole body and the stream never ended
  const node = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': BODY })
    res.end(Buffer.alloc(BODY, 'a'))
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const nodePort = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${nodePort}`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  t.teardown(async () => {
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  const seen = await unreadAnswer(c.cutover.proxyAddress.port, true, BODY)
  t.ok(seen.answered, 'the head came')
  t.equal(seen.received, BODY, 'the body went')
  t.ok(seen.endStream || seen.cut !== '', `ended (${seen.endStream}) or cut (${seen.cut})`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${nodePort}",kind="timeout"}`), 0, 'the node is not blamed')
})
