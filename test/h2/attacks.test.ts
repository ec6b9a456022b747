// The known HTTP/2 attack classes against a real cutover (issue 12), each with hand-made frames on
// a raw socket: the session is ended with GOAWAY and the refusal counted; nodes see no flood.
import net from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { DEFAULT_FLOOD_LIMITS } from '../../src/h2/flood-guard.js'
import {
  H2_GET as GET,
  H2_PREFACE as PREFACE,
  h2Frame as frame,
  hpackLiteral as literal,
  onFrames,
  type StreamHandler,
  startH2Upstream,
  DATA,
  HEADERS,
  RST_STREAM,
  SETTINGS,
  PING,
  GOAWAY,
  CONTINUATION,
  END_STREAM,
  END_HEADERS,
  PROTOCOL_ERROR,
  ENHANCE_YOUR_CALM,
} from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

interface RawClient {
  socket: net.Socket
  /** the first GOAWAY's error code, once one came */
  goaway(): Promise<number>
  /** streams the server answered with HEADERS */
  answered: Set<number>
  /** RST_STREAM frames received, by stream */
  resets: Map<number, number>
}

async function connect(port: number): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => {})
  const answered = new Set<number>()
  const resets = new Map<number, number>()
  let goaway: number | undefined
  let closed = false
  socket.on('close', () => (closed = true))
  onFrames(socket, ({ type, stream, payload }) => {
    if (type === GOAWAY && goaway === undefined) goaway = payload.readUInt32BE(4)
    if (type === HEADERS) answered.add(stream)
    if (type === RST_STREAM) resets.set(stream, payload.readUInt32BE(0))
  })
  socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]))
  return {
    socket,
    answered,
    resets,
    goaway: () => waitUntil('a GOAWAY', () => (goaway !== undefined ? goaway : closed ? -1 : undefined), 5000),
  }
}

async function setup(t: Test, handler?: StreamHandler): Promise<{ c: TestCutover; port: number; requests: () => number }> {
  const up = await startH2Upstream('x1', handler)
  const c = await startTestCutover({ x: [`{ url: http://127.0.0.1:${up.port}, h2: "${up.h2}" }`], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  t.teardown(async () => {
    await c.cutover.close()
    await up.close()
  })
  return { c, port: c.cutover.h2cAddress!.port, requests: () => up.seen.length }
}

t.test('rapid reset (CVE-2023-44487): streams opened and reset at once end the session; the node sees none of them', async (t) => {
  const { c, port, requests } = await setup(t)
  const client = await connect(port)
  const burst: Buffer[] = []
  for (let i = 0; i < 500; i++) {
    const id = 1 + 2 * i
    burst.push(frame(HEADERS, END_STREAM | END_HEADERS, id, GET), frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])))
  }
  client.socket.write(Buffer.concat(burst))
  {
    const code = await client.goaway()
    t.equal(code, ENHANCE_YOUR_CALM, `GOAWAY ENHANCE_YOUR_CALM (got ${code})`)
  }
  t.equal(await metricValue(c, 'cutover_requests_refused_total{reason="h2_rapid_reset"}'), 1)
  t.equal(requests(), 0, 'a stream reset in the same read never became a node request')
})

t.test('rapid reset spread over reads: still refused after the burst; the node saw at most what the reset bucket allowed', async (t) => {
  // the node never answers, so every stream that reaches it is reset unanswered and costs a token:
  // what it sees is bounded by the bucket (burst + refill over the elapsed time) and one round in flight,
  // however fast or slow this machine runs the rounds
  const { c, port, requests } = await setup(t, () => {})
  const started = performance.now()
  const client = await connect(port)
  const ROUND = 10
  let id = 1
  for (let round = 0; round < 40 && !client.socket.destroyed; round++) {
    const burst: Buffer[] = []
    for (let i = 0; i < ROUND; i++, id += 2) burst.push(frame(HEADERS, END_STREAM | END_HEADERS, id, GET))
    client.socket.write(Buffer.concat(burst))
    await new Promise((resolve) => setTimeout(resolve, 5))
    const resets: Buffer[] = []
    for (let s = id - 2 * ROUND; s < id; s += 2) resets.push(frame(RST_STREAM, 0, s, Buffer.from([0, 0, 0, 8])))
    client.socket.write(Buffer.concat(resets))
  }
  {
    const code = await client.goaway()
    t.equal(code, ENHANCE_YOUR_CALM, `GOAWAY ENHANCE_YOUR_CALM (got ${code})`)
  }
  const seconds = (performance.now() - started) / 1000
  t.equal(await metricValue(c, 'cutover_requests_refused_total{reason="h2_rapid_reset"}'), 1)
  t.equal(client.answered.size, 0, 'the node answered nothing')
  const { burst, perSecond } = DEFAULT_FLOOD_LIMITS.resets
  const allowed = burst + Math.ceil(perSecond * seconds) + ROUND
  t.ok(requests() <= allowed, `the node saw ${requests()} requests (at most ${allowed} allowed in ${seconds.toFixed(2)} s), not the ${(id - 1) / 2} streams opened`)
})

t.test('CONTINUATION flood (CVE-2024-27316 class): nghttp2 ends the session; counted', async (t) => {
  const { c, port } = await setup(t)
  const client = await connect(port)
  const flood: Buffer[] = [frame(HEADERS, END_STREAM, 1, GET)]
  for (let i = 0; i < 5000; i++) flood.push(frame(CONTINUATION, 0, 1, literal('x-a', 'b')))
  client.socket.write(Buffer.concat(flood))
  t.ok((await client.goaway()) >= 0, 'GOAWAY')
  await waitUntil('the refusal counted', async () => (await metricValue(c, 'cutover_requests_refused_total{reason="h2_continuation_flood"}')) === 1, 3000)
  t.pass('counted as h2_continuation_flood')
})

t.test('SETTINGS flood: GOAWAY ENHANCE_YOUR_CALM long before nghttp2 would act; counted', async (t) => {
  const { c, port } = await setup(t)
  const client = await connect(port)
  const flood: Buffer[] = []
  for (let i = 0; i < 200; i++) flood.push(frame(SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])))
  client.socket.write(Buffer.concat(flood))
  {
    const code = await client.goaway()
    t.equal(code, ENHANCE_YOUR_CALM, `GOAWAY ENHANCE_YOUR_CALM (got ${code})`)
  }
  t.equal(await metricValue(c, 'cutover_requests_refused_total{reason="h2_settings_flood"}'), 1)
})

t.test('PING flood: GOAWAY ENHANCE_YOUR_CALM; counted', async (t) => {
  const { c, port } = await setup(t)
  const client = await connect(port)
  const flood: Buffer[] = []
  for (let i = 0; i < 200; i++) flood.push(frame(PING, 0, 0, Buffer.alloc(8)))
  client.socket.write(Buffer.concat(flood))
  {
    const code = await client.goaway()
    t.equal(code, ENHANCE_YOUR_CALM, `GOAWAY ENHANCE_YOUR_CALM (got ${code})`)
  }
  t.equal(await metricValue(c, 'cutover_requests_refused_total{reason="h2_ping_flood"}'), 1)
})

t.test('a session ended for flooding: its GOAWAY names the streams already sent to a node as processed', async (t) => {
  // the node holds its answer: the stream is with it when the flood comes
  const { port, requests } = await setup(t, () => {})
  const client = await connect(port)
  let lastStream: number | undefined
  onFrames(client.socket, ({ type, payload }) => {
    if (type === GOAWAY && lastStream === undefined) lastStream = payload.readUInt32BE(0) & 0x7fffffff
  })
  client.socket.write(frame(HEADERS, END_STREAM | END_HEADERS, 1, GET))
  await waitUntil('the node has stream 1', () => requests() === 1, 3000)
  const flood: Buffer[] = []
  for (let i = 0; i < 200; i++) flood.push(frame(PING, 0, 0, Buffer.alloc(8)))
  client.socket.write(Buffer.concat(flood))
  t.equal(await client.goaway(), ENHANCE_YOUR_CALM)
  // last-stream-id 0 would tell the client stream 1 was never processed: safe to send again, even a POST
  t.equal(lastStream, 1, 'GOAWAY last-stream-id 1')
})

t.test('a header list over proxy.max_header_size: that stream is refused, the connection serves on', async (t) => {
  const { port, requests } = await setup(t)
  const client = await connect(port)
  // 17 kB of header list (max_header_size is 16 kB) in two frames, each under the 16 kB frame size
  const first = [GET]
  const rest: Buffer[] = []
  for (let i = 0; i < 160; i++) (i < 80 ? first : rest).push(literal(`x-h${i}`, 'v'.repeat(100)))
  client.socket.write(Buffer.concat([frame(HEADERS, END_STREAM, 1, Buffer.concat(first)), frame(CONTINUATION, END_HEADERS, 1, Buffer.concat(rest)), frame(HEADERS, END_STREAM | END_HEADERS, 3, GET)]))
  await waitUntil('stream 3 answered', () => client.answered.has(3), 5000)
  t.ok(client.resets.has(1), 'stream 1 was reset')
  t.notOk(client.answered.has(1), 'stream 1 got no answer')
  t.equal(requests(), 1, 'only stream 3 reached the node')
})

t.test('a body longer than its content-length, in the frames that open the stream: refused, and cutover serves on', async (t) => {
  const { c, requests } = await setup(t)
  // h2c with prior knowledge on the HTTP/1.1 port: there the stream is gone before the listener hears of it
  const port = c.cutover.proxyAddress.port
  const client = await connect(port)
  // POST (static entry 3) with content-length: 3, then 5 bytes of DATA, in one write: nghttp2
  // resets the stream before the listener hears of it (this killed the process once)
  const post = Buffer.concat([Buffer.from([0x83, 0x86, 0x84]), literal(':authority', 'a'), literal('content-length', '3')])
  client.socket.write(Buffer.concat([frame(HEADERS, END_HEADERS, 1, post), frame(DATA, END_STREAM, 1, Buffer.from('hello')), frame(HEADERS, END_STREAM | END_HEADERS, 3, GET)]))
  // Node 20's nghttp2 resets that stream and serves stream 3; Node 24's ends the session
  // (GOAWAY INTERNAL_ERROR, as a bare node:http2 server does): either refuses stream 1
  const outcome = await Promise.race([
    waitUntil('stream 3 answered', () => client.answered.has(3), 5000).then(
      () => 'answered' as const,
      () => 'neither' as const,
    ),
    client.goaway().then(
      () => 'goaway' as const,
      () => 'neither' as const,
    ),
  ])
  t.not(outcome, 'neither', `stream 3 answered or the session ended (${outcome})`)
  if (outcome === 'answered') t.equal(client.resets.get(1), PROTOCOL_ERROR, 'stream 1 was reset with PROTOCOL_ERROR')
  t.notOk(client.answered.has(1), 'stream 1 got no answer')
  // a new connection is served too: the process did not die of the reset stream's error
  const again = await connect(port)
  again.socket.write(frame(HEADERS, END_STREAM | END_HEADERS, 1, GET))
  await waitUntil('a new connection answered', () => again.answered.has(1), 5000)
  again.socket.destroy()
  t.equal(requests(), outcome === 'answered' ? 2 : 1, 'only the well-formed streams reached the node')
})

t.test('normal use stays well inside the limits: 300 streams with a few cancels and pings on one connection', async (t) => {
  const { c, port, requests } = await setup(t)
  const client = await connect(port)
  for (let round = 0; round < 30; round++) {
    const frames: Buffer[] = []
    for (let i = 0; i < 10; i++) frames.push(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * (round * 10 + i), GET))
    // one cancel per round, of a stream already answered or about to be
    frames.push(frame(RST_STREAM, 0, 1 + 2 * (round * 10), Buffer.from([0, 0, 0, 8])))
    if (round % 10 === 0) frames.push(frame(PING, 0, 0, Buffer.alloc(8)))
    client.socket.write(Buffer.concat(frames))
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await waitUntil('the streams answered', () => client.answered.size >= 270, 10_000)
  t.equal(client.socket.destroyed, false, 'the connection is open')
  t.ok(requests() >= 270)
  for (const reason of ['h2_rapid_reset', 'h2_ping_flood', 'h2_settings_flood']) t.equal(await metricValue(c, `cutover_requests_refused_total{reason="${reason}"}`), 0, reason)
})
