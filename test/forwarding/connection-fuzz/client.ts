// The client of one fuzzed connection (no tests here): plain TCP or TLS, writes its requests
// split at random points (all at once, or each after the answer before it, an upgrade's
// tunnel bytes after its 101), reads slowly if
// told to, half-closes or leaves where its script says, ends its side once every answer is
// in (a tunnel's once its echo is back), and gives up at a deadline (then the connection
// counts as hung).
import net from 'node:net'
import tls from 'node:tls'
import type { Random } from '../../../src/clock.js'
import { endsWithIt, type Reading, readAnswer, type Received } from './judge.js'
import type { ScriptedConnection } from './script.js'

/** a slow reader stops reading for up to this long at a time (well under idle_timeout) */
const SLOW_PAUSE_MS = 100

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * How many answers data holds whole, and whether the last of them ends the connection
 * (Connection: close; to HTTP/1.0, no keep-alive; the answer to an upgrade, whose tunnel
 * counts as answered once its echo is all back).
 */
function answered(conn: ScriptedConnection, data: Buffer): { count: number; last: boolean } {
  let off = 0
  for (let k = 0; k < conn.requests.length; k++) {
    const r = conn.requests[k]
    const reading = readAnswer(data, off, r, false)
    if (reading.kind !== 'answer') return { count: k, last: reading.kind === 'garbage' }
    const a = reading.answer
    if (a.switched) return { count: a.body.length >= r.tunnel.length ? k + 1 : k, last: false }
    off = a.end
    if (endsWithIt(conn, a)) return { count: k + 1, last: true }
  }
  return { count: conn.requests.length, last: false }
}

/** What data holds of request k's answer (a 101 as soon as its head is in), or null while an answer before it is not whole. */
function answerTo(conn: ScriptedConnection, data: Buffer, k: number): Reading | null {
  let off = 0
  for (let j = 0; j < k; j++) {
    const reading = readAnswer(data, off, conn.requests[j], false)
    if (reading.kind !== 'answer') return null
    off = reading.answer.end
  }
  return readAnswer(data, off, conn.requests[k], false)
}

/** ports: the proxy's plain and TLS listeners; onConnect: told the client's own port once connected */
export async function runConnection(ports: { plain: number; tls: number }, conn: ScriptedConnection, random: Random, deadlineMs: number, onConnect: (port: number) => void): Promise<Received> {
  const got: Received = { data: Buffer.alloc(0), closed: false, hung: false, reset: false, port: 0, cutoverReset: false }
  const s = conn.tls ? tls.connect({ port: ports.tls, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(ports.plain, '127.0.0.1')
  s.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') got.reset = true
  })
  s.on('data', (d) => {
    got.data = Buffer.concat([got.data, d])
    if (conn.fault === 'slow-read' && random() < 0.3) {
      s.pause()
      setTimeout(() => s.resume(), Math.floor(random() * SLOW_PAUSE_MS))
    }
  })
  const closed = new Promise<void>((r) =>
    s.on('close', () => {
      got.closed = true
      r()
    }),
  )
  const deadline = Date.now() + deadlineMs
  const until = async (done: () => boolean) => {
    while (!done() && !got.closed && Date.now() < deadline) await sleep(5)
  }
  await new Promise((r) => {
    s.on(conn.tls ? 'secureConnect' : 'connect', r)
    s.on('error', r)
  })
  got.port = s.localPort ?? 0
  onConnect(got.port)
  const all = Buffer.concat(conn.requests.map((r) => r.bytes))
  const leaves = conn.fault === 'half-close' || conn.fault === 'destroy'
  /** writes all[from, to) in pieces; false once the client left */
  const write = async (from: number, to: number): Promise<boolean> => {
    for (let off = from; off < to; ) {
      if (s.destroyed || got.closed) return false
      let end = random() < 0.5 ? to : Math.min(to, off + 1 + Math.floor(random() * (to - off)))
      if (leaves && off <= conn.faultAt && end >= conn.faultAt) end = conn.faultAt
      s.write(all.subarray(off, end))
      off = end
      if (leaves && off === conn.faultAt) {
        await sleep(Math.floor(random() * 30))
        if (conn.fault === 'half-close') s.end()
        else s.destroy()
        return false
      }
      if (off < to) await sleep(Math.floor(random() * 20))
    }
    return true
  }
  if (conn.mode === 'pipe') await write(0, all.length)
  else {
    for (let k = 0, at = 0; k < conn.requests.length; k++) {
      const r = conn.requests[k]
      const length = r.bytes.length
      if (r.upgrade && r.tunnel.length > 0) {
        // as a WebSocket client does: the tunnel's bytes once the 101 came (a retry is possible: nothing was sent early)
        const head = length - r.tunnel.length
        if (!(await write(at, at + head))) break
        at += head
        await until(() => answerTo(conn, got.data, k)?.kind === 'answer')
        const reading = answerTo(conn, got.data, k)
        if (reading?.kind !== 'answer' || !reading.answer.switched) break
        if (!(await write(at, at + r.tunnel.length))) break
        at += r.tunnel.length
        await until(() => answered(conn, got.data).count > k)
        break
      }
      if (!(await write(at, at + length))) break
      at += length
      await until(() => answered(conn, got.data).count > k)
      if (answered(conn, got.data).last) break
    }
  }
  if (conn.fault !== 'destroy') {
    // every answer in (and the connection kept): the client is done; cutover must close after its FIN
    await until(() => {
      const a = answered(conn, got.data)
      return a.count === conn.requests.length && !a.last
    })
    if (!got.closed && Date.now() < deadline) s.end()
    await until(() => false)
  }
  if (!got.closed && conn.fault !== 'destroy') got.hung = true
  s.destroy()
  await closed
  return got
}
