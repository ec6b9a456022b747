// A node that sends a few bytes now and then (server-sent events) to an HTTP/2 client that
// takes none of them (opens no window): the client is judged by what it takes, not by what
// the node sends. One that took nothing for idle_timeout while bytes waited for it is cut
// (its stream reset, the node's cancelled, the node not blamed), long before 16 KiB queue
// up; one that keeps taking bytes is not.
import type { ServerHttp2Stream } from 'node:http2'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import {
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  H2_GET,
  H2_PREFACE,
  HEADERS,
  h2Frame,
  onFrames,
  RST_STREAM,
  SETTINGS,
  SETTINGS_INITIAL_WINDOW_SIZE,
  startH2Upstream,
  windowUpdate,
} from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const IDLE_MS = 1000
/** an event of EVENT bytes every EVERY_MS: 16 KiB would take over a minute */
const EVERY_MS = 100
const EVENT = Buffer.from('data: tick\n\n')

/** An h2 node streaming events until its stream closes; closed: how many of its streams closed. */
async function eventNode() {
  let closed = 0
  const node = await startH2Upstream('x', (stream: ServerHttp2Stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' })
    const timer = setInterval(() => {
      if (!stream.destroyed) stream.write(EVENT)
    }, EVERY_MS)
    stream.on('close', () => {
      clearInterval(timer)
      closed++
    })
  })
  return { ...node, closed: () => closed }
}

/** A raw client asking for / with a window of 0 for its streams. */
async function zeroWindowClient(port: number) {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const seen = { answered: false, received: 0, reset: undefined as number | undefined, goaway: false }
  onFrames(socket, ({ type, stream, payload }) => {
    if (stream === 1 && type === HEADERS) seen.answered = true
    if (stream === 1 && type === DATA) seen.received += payload.length
    if (stream === 1 && type === RST_STREAM) seen.reset = payload.readUInt32BE(0)
    if (type === GOAWAY) seen.goaway = true
  })
  const settings = Buffer.alloc(6)
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE)
  settings.writeUInt32BE(0, 2)
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0, settings), h2Frame(HEADERS, END_STREAM | END_HEADERS, 1, H2_GET)]))
  return { socket, seen }
}

t.test('a slow event stream to a client that opens no window: cut after idle_timeout, the node not blamed', async (t) => {
  const node = await eventNode()
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  const { socket, seen } = await zeroWindowClient(c.cutover.proxyAddress.port)
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    await node.close()
  })
  await waitUntil('the answer’s head', () => seen.answered, 5000)
  const headAt = performance.now()
  await waitUntil('the stream reset', () => seen.reset !== undefined, 4 * IDLE_MS)
  const ms = performance.now() - headAt
  t.ok(ms < 3 * IDLE_MS, `cut after ${Math.round(ms)} ms (idle_timeout ${IDLE_MS} ms)`)
  t.equal(seen.received, 0, 'no window, no body')
  t.notOk(seen.goaway, 'the session goes on')
  await waitUntil('the node’s stream closed', () => node.closed() === 1, 3000)
  t.equal(await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="127.0.0.1:1",kind="timeout"}'), 0, 'the node is not blamed')
})

t.test('a slow event stream to a client that takes each event as it comes: not cut', async (t) => {
  const node = await eventNode()
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  const { socket, seen } = await zeroWindowClient(c.cutover.proxyAddress.port)
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    await node.close()
  })
  await waitUntil('the answer’s head', () => seen.answered, 5000)
  // a window for about one event at a time: it takes them at the node's pace
  const until = performance.now() + 3 * IDLE_MS
  while (performance.now() < until && seen.reset === undefined) {
    socket.write(Buffer.concat([windowUpdate(1, EVENT.length), windowUpdate(0, EVENT.length)]))
    await new Promise((r) => setTimeout(r, EVERY_MS))
  }
  t.equal(seen.reset, undefined, `not cut while taking events (${seen.received} bytes)`)
  t.ok(seen.received >= 10 * EVENT.length, 'the events moved')
  t.equal(node.closed(), 0, 'the node’s stream goes on')
})

t.test('a client that takes events slower than they come, but keeps taking: not cut', async (t) => {
  const node = await eventNode()
  const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: `  idle_timeout: ${IDLE_MS}ms` })
  const { socket, seen } = await zeroWindowClient(c.cutover.proxyAddress.port)
  t.teardown(async () => {
    socket.destroy()
    await c.cutover.close()
    await node.close()
  })
  await waitUntil('the answer’s head', () => seen.answered, 5000)
  // a window for one event every fourth of the node's: the queue for it grows all along
  const until = performance.now() + 4 * IDLE_MS
  while (performance.now() < until && seen.reset === undefined) {
    socket.write(Buffer.concat([windowUpdate(1, EVENT.length), windowUpdate(0, EVENT.length)]))
    await new Promise((r) => setTimeout(r, 4 * EVERY_MS))
  }
  t.equal(seen.reset, undefined, `not cut while taking events (${seen.received} bytes)`)
  t.ok(seen.received >= 5 * EVENT.length, 'the events moved')
  t.equal(node.closed(), 0, 'the node’s stream goes on')
})
