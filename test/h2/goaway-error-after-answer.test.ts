// End to end (src/h2/h2-attempt.ts #watchEnd, test/h2/h2-attempt-tail.test.ts): a node sends a
// whole answer, then at once a GOAWAY with an error code whose last stream id names the stream.
// The client reads slowly (a small window), so cutover holds the answer's tail paused when
// node:http2 destroys the node's session on that GOAWAY. The client must read all of it, not
// RST_STREAM INTERNAL_ERROR after part of it. (Before the fix this failed on Node 20 only: on
// Node 24 a stream's default highWaterMark of 64 KiB takes the whole answer without a pause.)
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, END_STREAM, goawayFrame, h2Frame, HEADERS, INTERNAL_ERROR, startRawH2Node } from '../helpers/h2.js'

const PIECE = 15_000
const PIECES = 4

t.test("a whole answer, then the node's GOAWAY INTERNAL_ERROR naming its stream: a slow client reads all of it", async (t) => {
  let streams = 0
  const node = await startRawH2Node((s, f) => {
    if (f.type !== HEADERS) return
    streams++
    const frames = [h2Frame(HEADERS, END_HEADERS, f.stream, Buffer.from([0x88]))] // :status 200 (static index 8)
    for (let i = 0; i < PIECES; i++) frames.push(h2Frame(DATA, i === PIECES - 1 ? END_STREAM : 0, f.stream, Buffer.alloc(PIECE, 0x61 + i)))
    s.write(Buffer.concat([...frames, goawayFrame(f.stream, INTERNAL_ERROR)]))
  })
  const h2 = `h2c://127.0.0.1:${node.port}`
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:${node.port}", h2: "${h2}" }`], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  // a small window: cutover's writes to the client wait, and it pauses the node's stream
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`, { settings: { initialWindowSize: 1024 } })
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    await node.close()
  })
  const r = await new Promise<{ status: number; bytes: number; error: string }>((resolve) => {
    const req = session.request({ ':path': '/' })
    let status = 0
    let bytes = 0
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (bytes += d.length))
    req.on('end', () => resolve({ status, bytes, error: '' }))
    req.on('error', (err: Error) => resolve({ status, bytes, error: err.message }))
  })
  t.equal(streams, 1, 'the node had the stream once')
  t.same(r, { status: 200, bytes: PIECE * PIECES, error: '' }, 'the answer came whole')
})
