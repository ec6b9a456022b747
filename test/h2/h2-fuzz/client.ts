// The client of one fuzzed HTTP/2 connection (no tests here): node:http2 with prior
// knowledge on the proxy port (or TLS with ALPN h2), its streams started at once or
// staggered, bodies in a few writes with trailers, streams it resets itself at a point of
// its upload or download, small windows and pauses for a slow reader, a connection it
// destroys or sends GOAWAY on. Records what each stream read, and whether it saw the
// answer's END_STREAM (node:http2 ends a stream's readable side for a RST_STREAM too).
import http2 from 'node:http2'
import type { Socket } from 'node:net'
import type { ScriptedConnection, ScriptedStream } from './script.js'

export interface StreamRead {
  status: number
  headers: http2.IncomingHttpHeaders
  body: Buffer
  trailers: http2.IncomingHttpHeaders | undefined
  interim: number
  /** the answer ended with END_STREAM on an open stream */
  endStream: boolean
  rstCode: number | undefined
  error: string
  /** the client reset the stream itself, before it closed */
  clientReset: boolean
  /** the client's side ended (END_STREAM sent) before any reset */
  sentWhole: boolean
  /** still open at the deadline */
  hung: boolean
}

export interface ConnectionRead {
  streams: StreamRead[]
  /** the client destroyed the connection (its fault 'close') before every stream closed */
  destroyed: boolean
  error: string
  /** cutover had not closed the connection CLOSE_BY_MS after the client's GOAWAY and FIN */
  unclosed: boolean
}

/**
 * cutover closes its side of a connection this long after the client's GOAWAY and FIN at
 * most (every stream of it closed by then, or cut by destroy()): well above the fuzz's
 * idle_timeout, on a loaded machine
 */
const CLOSE_BY_MS = 10_000

/** a slow reader stops reading for up to this long at a time (well under idle_timeout) */
const SLOW_PAUSE_MS = 80

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function runConnection(ports: { plain: number; tls: number }, conn: ScriptedConnection, random: () => number, deadlineMs: number): Promise<ConnectionRead> {
  const got: ConnectionRead = { streams: [], destroyed: false, error: '', unclosed: false }
  const settings = { initialWindowSize: conn.window, enablePush: false }
  const session = conn.tls ? http2.connect(`https://127.0.0.1:${ports.tls}`, { rejectUnauthorized: false, settings }) : http2.connect(`http://127.0.0.1:${ports.plain}`, { settings })
  session.on('error', (err) => (got.error ||= err.message))
  const sessionClosed = new Promise<void>((r) => session.once('close', r))
  // the socket itself: session.socket refuses destroy()
  let socket: Socket | undefined
  session.once('connect', (_s: http2.ClientHttp2Session, s: Socket) => (socket = s))
  const deadline = Date.now() + deadlineMs
  const closes: Array<Promise<void>> = []
  let started = 0
  for (const s of conn.streams) {
    const read: StreamRead = {
      status: 0,
      headers: {},
      body: Buffer.alloc(0),
      trailers: undefined,
      interim: 0,
      endStream: false,
      rstCode: undefined,
      error: '',
      clientReset: false,
      sentWhole: false,
      hung: false,
    }
    got.streams.push(read)
    if (s.delayMs > 0) await sleep(s.delayMs)
    if (session.closed || session.destroyed) {
      read.error = 'never started: the session was gone'
      continue
    }
    closes.push(runStream(session, s, read, conn.fault === 'slow-read', random))
    started++
  }
  if (conn.fault === 'goaway' && !session.destroyed) session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0)
  let faultTimer: NodeJS.Timeout | undefined
  if (conn.fault === 'close') {
    faultTimer = setTimeout(() => {
      got.destroyed = true
      session.destroy()
    }, conn.faultAtMs)
  }
  const all = Promise.all(closes)
  let done = false
  void all.then(() => (done = true))
  while (!done && Date.now() < deadline) await sleep(5)
  clearTimeout(faultTimer)
  for (const r of got.streams) if (!done && r.rstCode === undefined && r.error === '' && !r.endStream) r.hung = true
  if (started > 0 && !done) session.destroy()
  // GOAWAY; with every stream closed, the session ends its side of the socket (FIN) and
  // waits for cutover's: from then on destroy() cuts nothing, and only cutover closes it
  session.close()
  const closeBy = setTimeout(() => session.destroy(), 2000)
  const cutBy = setTimeout(() => {
    got.unclosed = true
    socket?.destroy()
  }, CLOSE_BY_MS)
  await sessionClosed
  clearTimeout(closeBy)
  clearTimeout(cutBy)
  return got
}

function runStream(session: http2.ClientHttp2Session, s: ScriptedStream, read: StreamRead, slow: boolean, random: () => number): Promise<void> {
  const headers: http2.OutgoingHttpHeaders = { ':method': s.method, ':path': `/r/${s.id}`, 'x-id': String(s.id) }
  if (s.contentLength) headers['content-length'] = s.body.length
  const endStream = !s.hasBody
  let req: http2.ClientHttp2Stream
  try {
    // waitForTrailers always: node:http2's close(code) on a stream whose writable side is
    // open ends it first, and a reset halfway through the body would reach cutover as
    // END_STREAM then RST_STREAM (a whole body)
    req = session.request(headers, endStream ? { endStream: true } : { endStream: false, waitForTrailers: true })
  } catch (err) {
    read.error = `request: ${(err as Error).message}`
    return Promise.resolve()
  }
  if (endStream) read.sentWhole = true
  const reset = () => {
    if (req.closed || req.destroyed) return
    read.clientReset = true
    req.close(s.resetCode)
  }
  // END_STREAM is an end heard while the stream is open; a reset's end comes with it closed
  const push = req.push
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) {
      req.push = push
      if (!req.closed && !req.aborted) read.endStream = true
    }
    return push.call(req, chunk, encoding)
  }
  req.on('headers', () => read.interim++)
  req.on('response', (h) => {
    read.status = Number(h[':status'])
    read.headers = h
    if (s.fault === 'reset-download' && s.resetAt === 0) reset()
  })
  const chunks: Buffer[] = []
  let length = 0
  req.on('data', (c: Buffer) => {
    chunks.push(c)
    length += c.length
    if (s.fault === 'reset-download' && length >= s.resetAt) reset()
    if (slow && random() < 0.3) {
      req.pause()
      setTimeout(() => req.resume(), Math.floor(random() * SLOW_PAUSE_MS))
    }
  })
  req.on('trailers', (h) => (read.trailers = h))
  req.on('error', (err) => (read.error ||= err.message))
  if (!endStream) req.once('wantTrailers', () => req.sendTrailers(s.trailers ? { 'x-req-trailer': String(s.id) } : {}))
  const closed = new Promise<void>((resolve) =>
    req.on('close', () => {
      read.rstCode = req.rstCode
      read.body = Buffer.concat(chunks)
      resolve()
    }),
  )
  if (!endStream) void upload(req, s, read, reset, random)
  // read it all: a stream that is not read never closes
  req.resume()
  return closed
}

async function upload(req: http2.ClientHttp2Stream, s: ScriptedStream, read: StreamRead, reset: () => void, random: () => number): Promise<void> {
  const limit = s.fault === 'reset-upload' ? s.resetAt : s.body.length
  const parts = 1 + Math.floor(random() * 3)
  const size = Math.max(1, Math.ceil(limit / parts))
  for (let at = 0; at < limit; at += size) {
    if (req.closed || req.destroyed) return
    const ok = req.write(s.body.subarray(at, Math.min(limit, at + size)))
    if (!ok)
      await new Promise<void>((r) => {
        const done = () => {
          req.off('drain', done)
          req.off('close', done)
          r()
        }
        req.on('drain', done)
        req.on('close', done)
      })
    await sleep(Math.floor(random() * 10))
  }
  if (req.closed || req.destroyed) return
  if (s.fault === 'reset-upload') {
    // the bytes so far go out, then the reset (never END_STREAM)
    await sleep(Math.floor(random() * 30))
    reset()
    return
  }
  req.end()
  read.sentWhole = true
}
