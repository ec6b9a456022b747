// The h2 sessions to one node: shared by streams, a new one when the node's stream limit is reached,
// connect timeout and idle close on a fake clock, no new streams on a session the node sent GOAWAY.
import http2, { type ClientHttp2Session } from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import type { H2Address } from '../../src/config/types.js'
import { NodeSessionPool, type SessionWaiter } from '../../src/h2/node-session-pool.js'
import { startH2Upstream } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

const address = (port: number): H2Address => ({ url: `h2c://127.0.0.1:${port}`, tls: false, hostname: '127.0.0.1', port, authority: `127.0.0.1:${port}` })
const OPTIONS = { connectTimeout: 1000, maxSessions: 4, idleTimeout: 30_000, maxHeaderListSize: 65536 }

/** Acquire a session; resolves with it or the error. */
function acquire(pool: NodeSessionPool): Promise<ClientHttp2Session | Error> {
  return new Promise((resolve) => {
    const waiter: SessionWaiter = { sessionReady: resolve, sessionFailed: resolve }
    pool.acquire(waiter)
  })
}

t.test('streams share one session until the node says it is full', async (t) => {
  const up = await startH2Upstream('x1')
  // the node allows 2 streams at once
  ;(up.server as http2.Http2Server).updateSettings({ maxConcurrentStreams: 2 })
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address(up.port), OPTIONS, clock)
  t.teardown(async () => {
    pool.destroy()
    await up.close()
  })
  const a = await acquire(pool)
  t.type(a, Object)
  await waitUntil("the node's SETTINGS", () => (a as ClientHttp2Session).remoteSettings.maxConcurrentStreams === 2, 3000)
  const b = await acquire(pool)
  t.equal(b, a, 'the second stream shares the session')
  const c = await acquire(pool)
  t.not(c, a, 'the third opens a second session')
  t.equal(pool.size, 2)
  pool.release(a as ClientHttp2Session)
  t.equal(await acquire(pool), a, 'a freed slot is used again')
})

t.test('a node that accepts TCP but never speaks h2: the waiters fail at connect_timeout', async (t) => {
  const sockets: net.Socket[] = []
  const silent = net.createServer((s) => sockets.push(s))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address((silent.address() as AddressInfo).port), OPTIONS, clock)
  t.teardown(() => {
    pool.destroy()
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const pending = acquire(pool)
  await waitUntil('the TCP connection', () => sockets.length === 1, 3000)
  clock.advance(999)
  clock.advance(1)
  const result = await pending
  t.type(result, Error)
  t.match((result as Error).message, /connect timeout after 1000ms/)
  await waitUntil('the failed session gone', () => pool.size === 0, 3000)
})

t.test('idle sessions close after idleTimeout; one the node sent GOAWAY takes no new streams', async (t) => {
  const up = await startH2Upstream('x1')
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address(up.port), OPTIONS, clock)
  const nodeSessions: http2.ServerHttp2Session[] = []
  up.server.on('session', (s: http2.ServerHttp2Session) => nodeSessions.push(s))
  t.teardown(async () => {
    pool.destroy()
    await up.close()
  })
  const a = (await acquire(pool)) as ClientHttp2Session
  pool.release(a)
  clock.advance(30_000)
  await waitUntil('the idle session closed', () => a.closed || a.destroyed, 3000)
  const b = (await acquire(pool)) as ClientHttp2Session
  t.not(b, a, 'a new session after the idle one closed')
  await waitUntil('the node side of the session', () => nodeSessions.length === 2, 3000)
  nodeSessions[1].goaway(http2.constants.NGHTTP2_NO_ERROR)
  await new Promise<void>((resolve) => b.once('goaway', () => resolve()))
  const c = (await acquire(pool)) as ClientHttp2Session
  t.not(c, b, 'after GOAWAY the next stream goes on a new session')
  pool.release(b)
  pool.release(c)
})

// The h2 fuzz saw a node with more sessions from one cutover than upstream_max_connections: a
// session the node sent GOAWAY takes no new stream but stays open while its streams finish,
// and the pool opened a new one beside it whenever every session it had was retired.
t.test('sessions the node sent GOAWAY count against maxSessions until they close; a stream waits for one to', async (t) => {
  // the node holds every stream, and sends GOAWAY naming it (accepted: it goes on)
  const held: http2.ServerHttp2Stream[] = []
  const up = await startH2Upstream('x1', (stream) => {
    held.push(stream)
    stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id)
  })
  // the node's count of sessions lags behind cutover's (a FIN in flight beside a new SYN): what counts is the pool's
  let sessions = 0
  up.server.on('session', () => sessions++)
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address(up.port), { ...OPTIONS, maxSessions: 2 }, clock)
  t.teardown(async () => {
    pool.destroy()
    await up.close()
  })
  /** a stream on a session of the pool, held at the node, the session then GOAWAY'd */
  const streamOn = async (session: ClientHttp2Session) => {
    const gone = new Promise<void>((resolve) => session.once('goaway', () => resolve()))
    const req = session.request({ ':path': '/' })
    req.on('error', () => undefined)
    req.once('close', () => pool.release(session))
    await gone
    return req
  }
  const a = (await acquire(pool)) as ClientHttp2Session
  await streamOn(a)
  const b = (await acquire(pool)) as ClientHttp2Session
  t.not(b, a, 'a second session beside the retired one')
  await streamOn(b)
  t.equal(pool.size, 2)
  let third: ClientHttp2Session | Error | undefined
  void acquire(pool).then((s) => (third = s))
  // nothing comes of it while both sessions are open: each is a connection to the node
  await waitUntil('the node saw both sessions', () => held.length === 2, 3000)
  t.equal(third, undefined, 'the third stream waits')
  t.equal(pool.size, 2, 'no third session')
  t.equal(pool.waiting, 1)
  // the node answers a's stream: a closes, and its slot goes to the waiting stream
  held[0]!.respond({ ':status': 200 }, { endStream: true })
  const c = await waitUntil('a session for the waiting stream', () => third, 3000)
  t.type(c, Object)
  t.not(c, a)
  t.not(c, b)
  t.ok(a.destroyed, 'a closed first')
  t.equal(pool.size, 2, 'b and the new one')
  await waitUntil('the node saw the new session', () => sessions === 3, 3000)
  pool.release(c as ClientHttp2Session)
})

t.test('a stream waiting for a session is told when its node takes no more traffic, leaves nothing behind when cancelled, and fails when the pool closes (nothing of it went)', async (t) => {
  const up = await startH2Upstream('x1', (stream) => stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id))
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address(up.port), { ...OPTIONS, maxSessions: 1 }, clock)
  t.teardown(async () => {
    pool.destroy()
    await up.close()
  })
  const a = (await acquire(pool)) as ClientHttp2Session
  const gone = new Promise<void>((resolve) => a.once('goaway', () => resolve()))
  a.request({ ':path': '/' }).on('error', () => undefined)
  await gone
  let moved = 0
  const cancelled: SessionWaiter = { sessionReady: () => t.fail('cancelled'), sessionFailed: () => t.fail('cancelled'), sessionMoved: () => moved++ }
  pool.acquire(cancelled)
  t.equal(pool.waiting, 1)
  // the node must take no more traffic: the waiter is told, and decides (it stays in line until it cancels)
  pool.moveWaiting()
  t.equal(moved, 1, 'the waiting stream is told to go elsewhere')
  t.equal(pool.waiting, 1)
  pool.cancel(cancelled)
  t.equal(pool.waiting, 0, 'a cancelled waiter is gone')
  const waiting = acquire(pool)
  pool.destroy()
  const result = await waiting
  t.type(result, Error)
  t.match((result as Error).message, /closed before a stream could go/)
})

t.test('many streams at once to a node slow to send its SETTINGS: one session, then no more than maxSessions', async (t) => {
  const sockets: net.Socket[] = []
  const slow = net.createServer((s) => {
    sockets.push(s)
    s.on('data', () => undefined)
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  const clock = new FakeClock()
  const pool = new NodeSessionPool(address((slow.address() as AddressInfo).port), { ...OPTIONS, maxSessions: 2 }, clock)
  t.teardown(() => {
    pool.destroy()
    for (const s of sockets) s.destroy()
    slow.close()
  })
  const ready: ClientHttp2Session[] = []
  const waiters: SessionWaiter[] = Array.from({ length: 20 }, () => ({ sessionReady: (s: ClientHttp2Session) => ready.push(s), sessionFailed: () => t.fail('failed') }))
  for (const w of waiters.slice(0, 10)) pool.acquire(w)
  t.equal(pool.size, 1, 'streams before the node spoke share the session being opened')
  await waitUntil('the TCP connection', () => sockets.length === 1, 3000)
  for (const w of waiters.slice(10)) pool.acquire(w)
  t.equal(pool.size, 1, 'still one once connected, before its SETTINGS')
  // the node speaks at last, and takes one stream at a time: the streams beyond go on a second session, no third
  const settings = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1])
  sockets[0]!.write(settings)
  await waitUntil('the first session up', () => ready.length === 20, 3000)
  for (let i = 0; i < 5; i++) pool.acquire({ sessionReady: () => undefined, sessionFailed: () => undefined })
  t.equal(pool.size, 2, 'two sessions, no more')
  await waitUntil("the second session's connection", () => sockets.length === 2, 3000)
})
