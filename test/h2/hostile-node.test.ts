// Nodes that misbehave at the frame level (spoken by hand, test/helpers/h2.ts startRawH2Node):
// what the client gets must never be a cut answer that looks whole, and nothing may leak.
import http2 from 'node:http2'
import t, { type Test } from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, END_STREAM, h2Frame, HEADERS, hpackLiteral, PUSH_PROMISE, startRawH2Node } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** :status 200 (static table index 8) and literal fields. */
function responseBlock(...fields: Array<[string, string]>): Buffer {
  return Buffer.concat([Buffer.from([0x88]), ...fields.map(([n, v]) => hpackLiteral(n, v))])
}

interface Seen {
  status: number
  headers: http2.IncomingHttpHeaders
  body: number
  trailers: http2.IncomingHttpHeaders
  ended: boolean
  rstCode: number | undefined
  error: string
}

function fetchThrough(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<Seen> {
  return new Promise((resolve) => {
    const req = session.request({ ':path': '/', ...headers })
    const seen: Seen = { status: 0, headers: {}, body: 0, trailers: {}, ended: false, rstCode: undefined, error: '' }
    req.on('response', (h) => {
      seen.status = Number(h[':status'])
      seen.headers = h
    })
    req.on('data', (d: Buffer) => (seen.body += d.length))
    req.on('trailers', (h) => (seen.trailers = h))
    req.on('end', () => (seen.ended = true))
    req.on('error', (e: Error) => (seen.error = e.message))
    req.on('close', () => {
      seen.rstCode = req.rstCode
      resolve(seen)
    })
  })
}

async function through(t: Test, onFrame: Parameters<typeof startRawH2Node>[0]) {
  const node = await startRawH2Node(onFrame)
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:${node.port}", h2: "h2c://127.0.0.1:${node.port}" }`], y: [], proxy: '  idle_timeout: 1s\n  retries: 0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await node.close()
  })
  return { node, c, session }
}

t.test('a body whose DATA ends with no END_STREAM and then the connection ends: the client sees it cut', async (t) => {
  const { c, session, node } = await through(t, (s, f) => {
    if (f.type !== HEADERS) return
    s.write(Buffer.concat([h2Frame(HEADERS, END_HEADERS, f.stream, responseBlock(['content-type', 'text/plain'])), h2Frame(DATA, 0, f.stream, Buffer.from('0123456789'))]))
    s.end()
  })
  const r = await fetchThrough(session, {})
  t.equal(r.status, 200)
  t.ok(r.rstCode !== 0, `reset (${r.rstCode}), not ended as whole`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${node.port}",kind="reset"}`), 1)
})

t.test('a body cut at a frame boundary, exactly its content-length, then the connection ends: the client sees it cut', async (t) => {
  const { c, session, node } = await through(t, (s, f) => {
    if (f.type !== HEADERS) return
    s.write(Buffer.concat([h2Frame(HEADERS, END_HEADERS, f.stream, responseBlock(['content-length', '10'])), h2Frame(DATA, 0, f.stream, Buffer.from('0123456789'))]))
    s.end()
  })
  const r = await fetchThrough(session, {})
  t.equal(r.status, 200)
  t.ok(r.rstCode !== 0, `reset (${r.rstCode}), not ended as whole`)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${node.port}",kind="reset"}`), 1)
})

t.test('a trailers-only gRPC error (HEADERS with END_STREAM): the status passes through as sent', async (t) => {
  const { session } = await through(t, (s, f) => {
    if (f.type !== HEADERS) return
    s.write(h2Frame(HEADERS, END_HEADERS | END_STREAM, f.stream, responseBlock(['content-type', 'application/grpc'], ['grpc-status', '14'], ['grpc-message', 'node says no'])))
  })
  const r = await fetchThrough(session, { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' })
  t.equal(r.status, 200)
  t.equal(r.headers['grpc-status'], '14')
  t.equal(r.headers['grpc-message'], 'node says no')
  t.ok(r.ended && r.rstCode === 0, 'ended')
  t.equal(r.body, 0)
})

t.test('a node that sends PUSH_PROMISE (push is off): the client gets an error, never a whole-looking answer; the node is counted', async (t) => {
  const { c, session, node } = await through(t, (s, f) => {
    if (f.type !== HEADERS) return
    // promised stream 2: :method GET (index 2), :path / (4), :scheme http (6), :authority a
    const promise = Buffer.concat([Buffer.from([0, 0, 0, 2, 0x82, 0x84, 0x86]), hpackLiteral(':authority', 'a')])
    s.write(
      Buffer.concat([
        h2Frame(HEADERS, END_HEADERS, f.stream, responseBlock(['content-length', '10'])),
        h2Frame(PUSH_PROMISE, END_HEADERS, f.stream, promise),
        h2Frame(DATA, END_STREAM, f.stream, Buffer.from('0123456789')),
      ]),
    )
  })
  const r = await fetchThrough(session, {})
  t.ok(r.status === 502 || (r.status === 200 && r.rstCode !== 0), `502, or 200 cut (${r.status}, ${r.rstCode})`)
  t.notOk(r.ended && r.rstCode === 0 && r.status === 200, 'never a whole-looking 200')
  await waitUntil('nothing in flight', async () => (await metricValue(c, 'cutover_requests_in_flight{pool="x"}')) === 0, 3000)
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${node.port}",kind="reset"}`), 1)
})
