// A node that answers before the client's request body is whole: the answer must reach the
// client ended, its trailers with it (a gRPC status, a checksum), before cutover tells the
// client to stop sending with RST_STREAM(NO_ERROR) (RFC 9113 8.1). The reset went as soon as
// the answer's data was written, before Node sent the trailers (or the empty DATA frame with
// END_STREAM); Node then sent neither: the answer had no end and no trailers, and a reset
// with NO_ERROR read as its end. Found by test/h2/h2-fuzz.test.ts.
//
// TODO: not fixed. Node 20 aborts with heap corruption ("corrupted size vs. prev_size") in
// some runs of test/h2/h2-fuzz.test.ts with the code as it is (4 runs in 48); the fixes
// tried made it more frequent: a reset in a setImmediate after sendTrailers (d30445a,
// reverted in caa6eeb), a reset only once the stream's state said its END_STREAM was
// written (589b37d: 11 aborts in 48 runs, side by side with the 48 above), and no reset
// at all, the rest of the body read and dropped (4 in 12): the early answer's trailers
// sent while the client still sends seem to be what Node 20 trips on, not the reset. No
// abort on Node 24 either way. Until the abort is understood the tests are todo; both
// pass with 589b37d on Node 20 and 24.
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, END_STREAM, H2_PREFACE, h2Frame, HEADERS, hpackLiteral, onFrames, RST_STREAM, SETTINGS } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** POST / over http with :authority a (static 3, 4, 6). */
const H2_POST = Buffer.concat([Buffer.from([0x83, 0x84, 0x86]), hpackLiteral(':authority', 'a')])

/** What a raw client read of stream 1 after sending half a body: frames in order, as `TYPE[+END]`. */
async function halfUpload(port: number, t: Test): Promise<string[]> {
  const seen: string[] = []
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  t.teardown(() => socket.destroy())
  onFrames(socket, (f) => {
    if (f.stream !== 1) return
    const name = f.type === HEADERS ? 'HEADERS' : f.type === DATA ? 'DATA' : f.type === RST_STREAM ? `RST_STREAM(${f.payload.readUInt32BE(0)})` : String(f.type)
    seen.push(`${name}${(f.flags & END_STREAM) !== 0 && f.type !== RST_STREAM ? '+END' : ''}`)
  })
  await new Promise<void>((r) => socket.once('connect', () => r()))
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, H2_POST), h2Frame(DATA, 0, 1, Buffer.from('half a bo'))]))
  await waitUntil('stream 1 reset', () => seen.some((s) => s.startsWith('RST_STREAM')), 3000).catch(() => undefined)
  return seen
}

t.test('an HTTP/1.1 node answering early with trailers: the client gets them, with END_STREAM, before the reset', { todo: 'the reset still goes before the trailers' }, async (t) => {
  const node = http.createServer((_req, res) => {
    res.writeHead(200, { trailer: 'x-sum' })
    res.write('denied early')
    res.addTrailers({ 'x-sum': '42' })
    res.end()
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const c = await startTestCutover({ x: [`http://127.0.0.1:${(node.address() as net.AddressInfo).port}`], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  const seen = await halfUpload(c.cutover.proxyAddress.port, t)
  const end = seen.findIndex((s) => s.endsWith('+END'))
  t.ok(end > 0 && seen[end] === 'HEADERS+END', `the trailers end the answer: ${seen.join(' ')}`)
  t.ok(seen.indexOf('RST_STREAM(0)') > end, 'then RST_STREAM(NO_ERROR)')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
})

t.test('an h2 node answering early without trailers: the client gets END_STREAM before the reset', { todo: 'the reset still goes before the END_STREAM' }, async (t) => {
  const node = http2.createServer()
  node.on('stream', (stream) => {
    stream.on('error', () => undefined)
    stream.respond({ ':status': 200 })
    stream.end('denied early')
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const port = (node.address() as net.AddressInfo).port
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "h2c://127.0.0.1:${port}" }`], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await new Promise((r) => node.close(r))
  })
  const seen = await halfUpload(c.cutover.proxyAddress.port, t)
  const end = seen.findIndex((s) => s.endsWith('+END'))
  t.ok(end > 0, `the answer ends: ${seen.join(' ')}`)
  t.ok(seen.indexOf('RST_STREAM(0)') > end, 'then RST_STREAM(NO_ERROR)')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
})
