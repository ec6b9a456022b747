// A client that resets its stream with NO_ERROR halfway through its request body: Node ends
// the stream's readable side as for END_STREAM, but the body is not whole; the node must
// never get it as whole (END_STREAM, or a chunked body's last chunk): its side is reset.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { CANCEL, DATA, END_HEADERS, END_STREAM, H2_PREFACE, h2Frame, HEADERS, hpackLiteral, RST_STREAM, SETTINGS, startRawH2Node } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** POST / over http with :authority a (static 3, 4, 6). */
const H2_POST = Buffer.concat([Buffer.from([0x83, 0x84, 0x86]), hpackLiteral(':authority', 'a')])

async function resetMidUpload(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, H2_POST), h2Frame(DATA, 0, 1, Buffer.from('half a bo'))]))
  return socket
}

t.test('to an h2 node: the node never gets END_STREAM, its stream is reset', async (t) => {
  // node:http2 emits 'end' for a reset stream too: what went on the wire is what counts
  let opened = 0
  let endStream = false
  let reset: number | undefined
  const node = await startRawH2Node((_s, f) => {
    if (f.type === HEADERS) opened++
    if ((f.type === DATA || f.type === HEADERS) && (f.flags & END_STREAM) !== 0) endStream = true
    if (f.type === RST_STREAM) reset = f.payload.readUInt32BE(0)
  })
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "h2c://127.0.0.1:${node.port}" }`], y: [] })
  const socket = await resetMidUpload(c.cutover.proxyAddress.port)
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    await node.close()
  })
  await waitUntil('the node has the stream', () => opened === 1, 3000)
  socket.write(h2Frame(RST_STREAM, 0, 1, Buffer.alloc(4)))
  await waitUntil('the node’s stream reset', () => reset !== undefined || endStream, 3000)
  t.notOk(endStream, 'no END_STREAM: the body is not whole')
  t.equal(reset, CANCEL)
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
})

t.test('to an HTTP/1.1 node: the node never sees the chunked body end', async (t) => {
  const bodies: string[] = []
  let aborted = 0
  let got = 0
  const node = http.createServer((req, res) => {
    got++
    let body = ''
    req.on('data', (d: Buffer) => (body += d))
    req.on('end', () => {
      bodies.push(body)
      res.end('ok')
    })
    req.on('aborted', () => aborted++)
    req.on('error', () => undefined)
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const port = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`http://127.0.0.1:${port}`], y: [] })
  const socket = await resetMidUpload(c.cutover.proxyAddress.port)
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  await waitUntil('the node has the request', () => got === 1, 3000)
  socket.write(h2Frame(RST_STREAM, 0, 1, Buffer.alloc(4)))
  await waitUntil('the node’s request ended one way or the other', () => aborted + bodies.length > 0, 3000)
  t.same(bodies, [], 'no body read as whole')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
})
