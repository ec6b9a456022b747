// The nodes of the h2 fuzz (no tests here): an h2c node (node:http2) and an HTTP/1.1 node
// (node:http) that read each request whole, record what they read, and answer as the
// request's plan says (script.ts), in their own framing; on a request's first attempt they
// fault as the plan says. The request's id comes in its x-id field and goes back in x-id
// and in the body (bodyFor), with x-node naming the node's framing.
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { bodyFor, type NodeFault, type ScriptedStream } from './script.js'

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants

/** One attempt at a request, as a node read it. */
export interface NodeAttempt {
  node: string
  /** the request ended with its END_STREAM (h2) or its framing (HTTP/1.1): the node read it as whole */
  whole: boolean
  body: Buffer
  /** x-req-trailer as read */
  trailer: string | undefined
  /** the node refused it (REFUSED_STREAM, above a GOAWAY's last stream id): not processed */
  refused: boolean
  /** how the request said its body's length */
  framing: string
}

export interface Records {
  attempts: Map<number, NodeAttempt[]>
  /** requests another request's fault took with it (a session cut or sent GOAWAY) */
  collateral: Set<number>
}

export interface FuzzNode {
  name: string
  port: number
  /** requests open at the node now, and their ids */
  readonly active: number
  readonly openIds: ReadonlySet<number>
  /** connections (h2: sessions) open now, and the most at once */
  readonly open: number
  readonly maxOpen: number
  close(): Promise<void>
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Calls count a little after an accept: a connection cutover closed before it opened this
 * one may not have been read as closed here yet (its FIN in flight beside the new SYN).
 */
function settled(count: () => void): void {
  setTimeout(count, 30)
}

/**
 * RST_STREAM, a turn of the loop later. On Node 20, stream.close(code) with a code other than
 * CANCEL flushes the session's pending frames at once (Http2Stream::SubmitRstStream); from a
 * handler that runs inside nghttp2's read of the peer's frames ('stream', 'data', 'end', and
 * the ticks and microtasks they queue), a pending GOAWAY goes out there and nghttp2 frees each
 * stream above its last stream id, the one it is reading among them: a heap use-after-free
 * that aborts the process ("corrupted size vs. prev_size"), see test/h2/node20-uaf/goaway-uaf.mjs.
 */
function resetLater(stream: http2.ServerHttp2Stream, code: number): void {
  setImmediate(() => {
    if (!stream.closed && !stream.destroyed) stream.close(code)
  })
}

function attemptOf(records: Records, id: number, node: string): { attempt: NodeAttempt; first: boolean } {
  let list = records.attempts.get(id)
  if (list === undefined) records.attempts.set(id, (list = []))
  const attempt: NodeAttempt = { node, whole: false, body: Buffer.alloc(0), trailer: undefined, refused: false, framing: '' }
  list.push(attempt)
  return { attempt, first: list.length === 1 }
}

/** the pieces of bytes up to limit, in plan.pieces writes */
function pieces(bytes: Buffer, limit: number, n: number): Buffer[] {
  const out: Buffer[] = []
  const size = Math.max(1, Math.ceil(limit / n))
  for (let at = 0; at < limit; at += size) out.push(bytes.subarray(at, Math.min(limit, at + size)))
  return out
}

interface H2SessionState {
  /** open streams: stream id -> request id and its attempt */
  open: Map<number, { id: number; attempt: NodeAttempt }>
  /** the last stream id of the GOAWAY this node sent on it */
  goneAfter: number | null
  /** every request that came on it: a cut connection may take answers the node sent whole (a reset discards what the peer had not read) */
  all: Set<number>
}

export async function h2FuzzNode(name: string, scripts: ReadonlyMap<number, ScriptedStream>, records: Records): Promise<FuzzNode> {
  const server = http2.createServer()
  const sessions = new Map<http2.ServerHttp2Session, H2SessionState>()
  const openIds = new Set<number>()
  let active = 0
  let maxOpen = 0
  // node:http2 forbids destroying a session's socket through the session: the raw one, by port
  const sockets = new Map<number, Socket>()
  server.on('connection', (socket: Socket) => {
    const port = socket.remotePort ?? 0
    sockets.set(port, socket)
    socket.on('close', () => {
      if (sockets.get(port) === socket) sockets.delete(port)
    })
  })
  server.on('session', (s) => {
    sessions.set(s, { open: new Map(), goneAfter: null, all: new Set() })
    settled(() => (maxOpen = Math.max(maxOpen, sessions.size)))
    s.on('error', () => undefined)
    s.on('close', () => sessions.delete(s))
  })
  /** every request open on the session goes with it */
  const cutSession = (state: H2SessionState | undefined) => {
    for (const id of state?.all ?? []) records.collateral.add(id)
  }
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    const session = stream.session as http2.ServerHttp2Session
    const sid = stream.id ?? 0
    const state = sessions.get(session)
    const id = Number(headers['x-id'])
    const script = scripts.get(id)
    if (state === undefined || script === undefined) {
      resetLater(stream, NGHTTP2_REFUSED_STREAM)
      return
    }
    if (state.goneAfter !== null && sid > state.goneAfter) {
      // above the GOAWAY's last stream id: never processed
      records.collateral.add(id)
      resetLater(stream, NGHTTP2_REFUSED_STREAM)
      return
    }
    active++
    openIds.add(id)
    const { attempt, first } = attemptOf(records, id, name)
    attempt.framing = `content-length: ${headers['content-length'] ?? '-'}`
    state.open.set(sid, { id, attempt })
    state.all.add(id)
    stream.on('close', () => {
      active--
      openIds.delete(id)
      state.open.delete(sid)
    })
    const plan = script.plan
    const fault: NodeFault = first ? plan.fault : 'none'
    if (fault === 'refused') {
      attempt.refused = true
      resetLater(stream, NGHTTP2_REFUSED_STREAM)
      return
    }
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('trailers', (h) => {
      attempt.trailer = h['x-req-trailer'] as string | undefined
    })
    const ended = () => {
      attempt.whole = true
      attempt.body = Buffer.concat(chunks)
      void answer()
    }
    if (stream.endAfterHeaders) queueMicrotask(ended)
    else {
      // Node ends the readable side for a RST_STREAM too: only an end heard on an open stream is END_STREAM
      const push = stream.push
      stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
        if (chunk === null) {
          stream.push = push
          if (!stream.closed && !stream.aborted) stream.once('end', ended)
        }
        return push.call(stream, chunk, encoding)
      }
    }
    const doFault = () => {
      if (fault === 'cut') {
        cutSession(state)
        sockets.get(session.socket?.remotePort ?? 0)?.destroy()
      } else if (fault === 'tcp-reset') {
        cutSession(state)
        sockets.get(session.socket?.remotePort ?? 0)?.resetAndDestroy()
      } else if (fault === 'reset') {
        resetLater(stream, plan.resetCode)
      }
      // stall: nothing more
    }
    const answer = async () => {
      if (fault === 'goaway-below' || fault === 'goaway-above') {
        const last = fault === 'goaway-below' ? Math.max(0, sid - 2) : sid
        state.goneAfter = Math.min(state.goneAfter ?? last, last)
        // a GOAWAY with an error code ends the session at once (node:http2 destroys it): every stream goes
        const error = fault === 'goaway-below' && plan.resetCode !== NGHTTP2_NO_ERROR
        if (error) state.goneAfter = 0
        for (const [other, open] of state.open) {
          if (other > last || error) records.collateral.add(open.id)
          // refused below: never processed
          if (other > last) open.attempt.refused = true
        }
        session.goaway(fault === 'goaway-below' ? plan.resetCode : NGHTTP2_NO_ERROR, last)
        for (const s of [...streamsOf(session)]) if ((s.id ?? 0) > last && !s.closed) resetLater(s, NGHTTP2_REFUSED_STREAM)
        // the streams it processed finish; then the session closes
        setTimeout(() => session.close(), 10)
        setTimeout(() => {
          if (session.destroyed) return
          cutSession(state)
          session.destroy()
        }, 3000).unref()
        if (fault === 'goaway-below') return
      }
      const faulted = fault !== 'none' && fault !== 'goaway-above'
      if (faulted && plan.faultAt < 0) return doFault()
      if (stream.closed || stream.destroyed) return
      const noBody = script.method === 'HEAD' || plan.status === 204
      const trailers = plan.trailers && !noBody
      if (plan.interim) stream.additionalHeaders({ ':status': 103, link: '</s.css>; rel=preload' })
      const head: http2.OutgoingHttpHeaders = { ':status': plan.status, 'x-id': String(id), 'x-node': 'h2' }
      if (plan.contentLength && plan.status !== 204) head['content-length'] = plan.bodyLength
      try {
        // waitForTrailers: node:http2's close(code) on a stream whose writable side is open
        // ends it first (END_STREAM, then a RST_STREAM or none at all): the reset would look whole
        stream.respond(head, noBody ? { endStream: true } : { waitForTrailers: true })
      } catch {
        return
      }
      if (noBody) return
      stream.once('wantTrailers', () => stream.sendTrailers(trailers ? { 'x-trailer': String(id) } : {}))
      const body = bodyFor(id, plan.bodyLength)
      const limit = faulted ? Math.min(plan.faultAt, body.length) : body.length
      for (const piece of pieces(body, limit, plan.pieces)) {
        if (stream.closed || stream.destroyed) return
        stream.write(piece)
        if (plan.pieces > 1) await pause(2)
      }
      if (stream.closed || stream.destroyed) return
      if (faulted) doFault()
      else stream.end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    name,
    port: (server.address() as AddressInfo).port,
    get active() {
      return active
    },
    openIds,
    get open() {
      return sessions.size
    },
    get maxOpen() {
      return maxOpen
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions.keys()) s.destroy()
        server.close(() => r())
      }),
  }
}

/** The streams open on a server session (node:http2 keeps them in a private map). */
function streamsOf(session: http2.ServerHttp2Session): Iterable<http2.ServerHttp2Stream> {
  const sym = Object.getOwnPropertySymbols(session).find((s) => s.description === 'streams')
  const map = sym === undefined ? undefined : (session as unknown as Record<symbol, Map<number, http2.ServerHttp2Stream>>)[sym]
  return map?.values() ?? []
}

export async function h1FuzzNode(name: string, scripts: ReadonlyMap<number, ScriptedStream>, records: Records): Promise<FuzzNode> {
  let active = 0
  const openIds = new Set<number>()
  let open = 0
  let maxOpen = 0
  const sockets = new Set<Socket>()
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const id = Number(req.headers['x-id'])
    const script = scripts.get(id)
    req.on('error', () => undefined)
    res.on('error', () => undefined)
    if (script === undefined) {
      res.writeHead(404).end()
      return
    }
    active++
    openIds.add(id)
    // a response not yet on its socket hears no 'close' when the socket goes: the socket's too
    let open = true
    const closed = () => {
      if (!open) return
      open = false
      active--
      openIds.delete(id)
    }
    res.on('close', closed)
    req.socket.once('close', closed)
    const { attempt, first } = attemptOf(records, id, name)
    attempt.framing = `content-length: ${req.headers['content-length'] ?? '-'}, transfer-encoding: ${req.headers['transfer-encoding'] ?? '-'}`
    const plan = script.plan
    let fault: NodeFault = first ? plan.fault : 'none'
    // no GOAWAY nor REFUSED_STREAM in HTTP/1.1: a reset before the head for those
    let faultAt = plan.faultAt
    if (fault === 'goaway-above') fault = 'none'
    else if (fault === 'goaway-below' || fault === 'refused') {
      fault = 'tcp-reset'
      faultAt = -1
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (!req.complete) return
      attempt.whole = true
      attempt.body = Buffer.concat(chunks)
      attempt.trailer = req.trailers['x-req-trailer']
      void answer()
    })
    const doFault = () => {
      if (fault === 'cut') req.socket.destroy()
      else if (fault === 'reset' || fault === 'tcp-reset') req.socket.resetAndDestroy()
    }
    const answer = async () => {
      if (fault !== 'none' && faultAt < 0) return doFault()
      const noBody = script.method === 'HEAD' || plan.status === 204
      const trailers = plan.trailers && !noBody && !plan.contentLength
      // not on a response queued behind its connection's previous one (its socket not yet
      // its own): node:http then puts the final head before the 103 it buffered
      if (plan.interim && res.socket !== null) res.writeEarlyHints({ link: '</s.css>; rel=preload' })
      const head: http.OutgoingHttpHeaders = { 'x-id': String(id), 'x-node': 'h1' }
      if (plan.contentLength && plan.status !== 204) head['content-length'] = plan.bodyLength
      if (trailers) head.trailer = 'x-trailer'
      res.writeHead(plan.status, head)
      if (noBody) {
        res.end()
        return
      }
      const body = bodyFor(id, plan.bodyLength)
      const limit = fault !== 'none' ? Math.min(faultAt, body.length) : body.length
      if (limit === 0) res.flushHeaders()
      for (const piece of pieces(body, limit, plan.pieces)) {
        if (res.destroyed) return
        res.write(piece)
        if (plan.pieces > 1) await pause(2)
      }
      if (res.destroyed) return
      if (fault !== 'none') {
        // the bytes so far go out first
        res.write('', () => doFault())
        return
      }
      if (trailers) res.addTrailers({ 'x-trailer': String(id) })
      res.end()
    }
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    open++
    settled(() => (maxOpen = Math.max(maxOpen, open)))
    s.on('close', () => {
      sockets.delete(s)
      open--
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    name,
    port: (server.address() as AddressInfo).port,
    get active() {
      return active
    },
    openIds,
    get open() {
      return open
    },
    get maxOpen() {
      return maxOpen
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}
