// A node's h2 listener that resets its stream with NO_ERROR before the body its
// content-length promised (without END_STREAM): Node reports a clean end, and nghttp2 checks
// the length only at END_STREAM. The client must see the answer broken, never short and whole.
// The node is hand-made frames on a raw socket, as no library sends this.
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { type RawServer, startRawServer } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'
import { h2Frame as frame, startH2Upstream, HEADERS, RST_STREAM, SETTINGS, END_HEADERS, ACK } from '../helpers/h2.js'

/** An h2 node answering every stream `:status 200, content-length: 100`, 10 bytes of DATA, then RST_STREAM(NO_ERROR). */
function shortNode(): Promise<RawServer> {
  return startRawServer((s) => {
    let buf = Buffer.alloc(0)
    let preface = false
    s.write(frame(SETTINGS, 0, 0))
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (!preface) {
        if (buf.length < 24) return
        buf = buf.subarray(24)
        preface = true
      }
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3)
        if (buf.length < 9 + length) return
        const type = buf[3]
        const flags = buf[4]!
        const stream = buf.readUInt32BE(5) & 0x7fffffff
        buf = buf.subarray(9 + length)
        if (type === SETTINGS && (flags & ACK) === 0) s.write(frame(SETTINGS, ACK, 0))
        if (type === HEADERS) {
          // :status 200 (static index 8), content-length: 100 (literal, new name)
          const block = Buffer.concat([Buffer.from([0x88, 0x00, 14]), Buffer.from('content-length'), Buffer.from([3]), Buffer.from('100')])
          s.write(Buffer.concat([frame(HEADERS, END_HEADERS, stream, block), frame(0, 0, stream, Buffer.from('0123456789')), frame(RST_STREAM, 0, stream, Buffer.alloc(4))]))
        }
      }
    })
  })
}

t.test('an answer reset with NO_ERROR short of its content-length reaches the client broken, counted as a reset', async (t) => {
  const node = await shortNode()
  const c = await startTestCutover({ x: [`{ url: http://127.0.0.1:${node.port}, h2: "h2c://127.0.0.1:${node.port}" }`], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await node.close()
  })
  const r = await new Promise<{ status: number; bytes: number; clean: boolean; rstCode: number | undefined }>((resolve) => {
    const req = session.request({ ':path': '/short' })
    let status = 0
    let bytes = 0
    let clean = false
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (bytes += d.length))
    req.on('end', () => (clean = req.rstCode === undefined || req.rstCode === 0))
    req.on('error', () => undefined)
    req.on('close', () => resolve({ status, bytes, clean: clean && req.rstCode === 0, rstCode: req.rstCode }))
  })
  t.equal(r.status, 200)
  t.ok(r.bytes <= 10, 'at most the 10 bytes the node sent')
  t.not(r.rstCode, 0, 'the stream was reset, not ended as if whole')
  await waitUntil('the reset counted', async () => (await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${node.port}",kind="reset"}`)) === 1, 5000)
})

/** One request through cutover; what the client read, and whether its stream ended cleanly (END_STREAM, no reset). */
function fetchThrough(session: http2.ClientHttp2Session, path: string, pauseMs = 0): Promise<{ status: number; bytes: number; clean: boolean }> {
  return new Promise((resolve) => {
    const req = session.request({ ':path': path })
    let status = 0
    let bytes = 0
    let ended = false
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (bytes += d.length))
    req.on('end', () => (ended = true))
    req.on('error', () => undefined)
    req.on('close', () => resolve({ status, bytes, clean: ended && req.rstCode === 0 }))
    if (pauseMs > 0) {
      // a slow client: the node's END_STREAM comes while the answer waits in cutover
      req.pause()
      setTimeout(() => req.resume(), pauseMs)
    }
  })
}

t.test('an answer the node resets with NO_ERROR, with no content-length (a Node node that destroys its stream or session mid-answer), reaches the client broken', async (t) => {
  // node:http2's stream.destroy() and session.destroy() reset a stream with NO_ERROR and no END_STREAM; before,
  // Node's clean end of the stream read as the answer's end, and the client got 3 bytes as a whole answer
  const node = await startH2Upstream('x', (stream, headers) => {
    stream.respond({ ':status': 200 })
    if (headers[':path'] === '/whole') {
      stream.end(Buffer.alloc(1 << 20, 'w'))
      return
    }
    stream.write('abc')
    if (headers[':path'] === '/stream-destroyed') setTimeout(() => stream.destroy(), 50)
    // the session's other stream (/stalled) is reset with NO_ERROR too when it goes
    if (headers[':path'] === '/session-destroyed') setTimeout(() => stream.session?.destroy(), 50)
  })
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await node.close()
  })
  const whole = await fetchThrough(session, '/whole', 300)
  t.same(whole, { status: 200, bytes: 1 << 20, clean: true }, 'a whole answer read slowly is whole')
  const destroyed = await fetchThrough(session, '/stream-destroyed')
  t.equal(destroyed.status, 200)
  t.equal(destroyed.bytes, 3)
  t.notOk(destroyed.clean, 'a stream the node destroyed is not read as whole')
  const stalled = fetchThrough(session, '/stalled')
  await waitUntil('the stalled stream at the node', () => node.seen.some((h) => h[':path'] === '/stalled'), 5000)
  const [other, gone] = await Promise.all([stalled, fetchThrough(session, '/session-destroyed')])
  t.notOk(gone.clean, 'the stream whose node session was destroyed is not read as whole')
  t.notOk(other.clean, 'nor is the other stream of that session')
  await waitUntil('the resets counted', async () => (await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:1",kind="reset"}`)) === 3, 5000)
})
