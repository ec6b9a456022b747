// A node that answers before the client's request body is whole: the answer must reach the
// client ended, its trailers with it (a gRPC status, a checksum), before cutover tells the
// client to stop sending with RST_STREAM(NO_ERROR) (RFC 9113 8.1). The reset went as soon as
// the answer's data was written, before Node sent the trailers (or the empty DATA frame with
// END_STREAM); Node then sent neither: the answer had no end and no trailers, and a reset
// with NO_ERROR read as its end. Found by test/h2/h2-fuzz.test.ts.
//
// Fixed on Node 24 and later only (EARLY_END_KEPT in src/h2/stream-exchange.ts): on Node 20
// the fix made test/h2/h2-fuzz.test.ts abort with heap corruption ("corrupted size vs.
// prev_size") more often (11 runs in 48 against 4 in 48 without it; d30445a, reverted in
// caa6eeb, did the same); Node 22 is not tested. Below 24 the tests are todo.
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import t, { type Test } from 'tap'
import { EARLY_END_KEPT } from '../../src/h2/stream-exchange.js'
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

t.test(
  'an HTTP/1.1 node answering early with trailers: the client gets them, with END_STREAM, before the reset',
  { todo: EARLY_END_KEPT ? false : 'below Node 24 the reset still goes before the trailers' },
  async (t) => {
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
  },
)

t.test(
  'an h2 node answering early without trailers: the client gets END_STREAM before the reset',
  { todo: EARLY_END_KEPT ? false : 'below Node 24 the reset still goes before the END_STREAM' },
  async (t) => {
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
  },
)
