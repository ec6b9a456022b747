// What a fuzzed connection's client must have read (no tests here): each request's answer,
// in order, whole and its own, or cutover's own 502/504 where the node's plan explains it,
// or a visibly cut answer where the node cut after its head; nothing after an answer that
// ends the connection (Connection: close; to an HTTP/1.0 client, any without
// Connection: keep-alive), and the requests after it never sent to a node. An HTTP/1.0
// client gets no 1xx and no chunks (a chunked answer de-chunked, read until the close), and
// such an answer cut by its node ends with a TCP reset, never with a close that would read as
// its end. An upgrade switched by a 101 echoes the tunnel's bytes; a declined one is an
// answer that closes the connection.
import { bodyFor, describePlan, endsConnection, type NodePlan, type ScriptedConnection, type ScriptedRequest } from './script.js'

export interface Answer {
  status: number
  /** field names in lower case; repeated fields joined with ', ' */
  fields: Map<string, string>
  body: Buffer
  /** the chunked body's trailer section as sent, '' without one */
  trailers: string
  /** where the answer ends in the bytes read */
  end: number
  /** its framing ended (always, when it lasts until the close and the connection closed) */
  whole: boolean
  untilClose: boolean
  /** 1xx answers before it */
  interim: number
  /** a 101: body holds every byte after its head (the tunnel's), whole once the connection closed */
  switched: boolean
}

export type Reading = { kind: 'none' } | { kind: 'garbage'; at: number } | { kind: 'answer'; answer: Answer }

/** The answer to request r that starts at off in buf (1xx skipped, but a 101 to an upgrade); atEof: the connection closed. */
export function readAnswer(buf: Buffer, off: number, r: Pick<ScriptedRequest, 'method' | 'upgrade'>, atEof: boolean): Reading {
  const method = r.method
  let interim = 0
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', off)
    if (headEnd < 0) {
      if (buf.length > off && !'HTTP/1.1 '.startsWith(buf.subarray(off, off + 9).toString('latin1'))) return { kind: 'garbage', at: off }
      return { kind: 'none' }
    }
    const lines = buf.subarray(off, headEnd).toString('latin1').split('\r\n')
    const statusLine = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0])
    if (statusLine === null) return { kind: 'garbage', at: off }
    const status = Number(statusLine[1])
    const fields = new Map<string, string>()
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon <= 0) return { kind: 'garbage', at: off }
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value)
    }
    const start = headEnd + 4
    const answer = (end: number, body: Buffer, whole: boolean, trailers = '', untilClose = false): Reading => ({
      kind: 'answer',
      answer: { status, fields, body, trailers, end, whole, untilClose, interim, switched: status === 101 },
    })
    if (status === 101 && r.upgrade) return answer(buf.length, buf.subarray(start), atEof, '', true)
    if (status < 200) {
      interim++
      off = start
      continue
    }
    if (method === 'HEAD' || status === 204 || status === 304) return answer(start, Buffer.alloc(0), true)
    if (/chunked/i.test(fields.get('transfer-encoding') ?? '')) return readChunked(buf, start, atEof, answer)
    const length = fields.get('content-length')
    if (length !== undefined) {
      const end = start + Number(length)
      if (buf.length >= end) return answer(end, buf.subarray(start, end), true)
      return atEof ? answer(buf.length, buf.subarray(start), false) : { kind: 'none' }
    }
    return atEof ? answer(buf.length, buf.subarray(start), true, '', true) : { kind: 'none' }
  }
}

/** The answer ends the connection: Connection: close, or (to an HTTP/1.0 client) no Connection: keep-alive, or a 101. */
export function endsWithIt(conn: Pick<ScriptedConnection, 'version'>, a: Answer): boolean {
  const connection = a.fields.get('connection') ?? ''
  if (a.switched || /\bclose\b/i.test(connection)) return true
  return conn.version !== '1.1' && !/\bkeep-alive\b/i.test(connection)
}

function readChunked(buf: Buffer, at: number, atEof: boolean, answer: (end: number, body: Buffer, whole: boolean, trailers?: string) => Reading): Reading {
  const parts: Buffer[] = []
  const cut = () => (atEof ? answer(buf.length, Buffer.concat(parts), false) : ({ kind: 'none' } as const))
  for (;;) {
    const line = buf.indexOf('\r\n', at)
    if (line < 0) return cut()
    const size = parseInt(buf.subarray(at, line).toString('latin1'), 16)
    if (Number.isNaN(size)) return { kind: 'garbage', at }
    if (size === 0) {
      const end = buf.indexOf('\r\n\r\n', line)
      const trailersEnd = buf.subarray(line, line + 4).toString('latin1') === '\r\n\r\n' ? line + 4 : end < 0 ? -1 : end + 4
      if (trailersEnd < 0) return cut()
      return answer(trailersEnd, Buffer.concat(parts), true, buf.subarray(line + 2, trailersEnd - 2).toString('latin1'))
    }
    if (buf.length < line + 2 + size + 2) {
      parts.push(buf.subarray(line + 2, Math.min(buf.length, line + 2 + size)))
      return cut()
    }
    parts.push(buf.subarray(line + 2, line + 2 + size))
    at = line + 2 + size + 2
  }
}

export interface Received {
  data: Buffer
  /** the connection closed */
  closed: boolean
  /** still open at the deadline (then destroyed) */
  hung: boolean
  /** the client saw the connection reset (ECONNRESET, EPIPE): bytes cutover had sent may be lost with it */
  reset: boolean
  /** the client's own port */
  port: number
  /**
   * cutover cut the connection with a reset (ClientSide.reset): a Node client does not always
   * see one (libuv reports a plain end when the RST comes behind bytes not read yet: a short
   * read and POLLHUP), and over TLS it is a close without close_notify, which Node's client
   * does not tell from a close either; so the judge takes cutover's word for it
   */
  cutoverReset: boolean
}

/** Outcomes met, for the summary. */
export interface Tally {
  whole: number
  cut: number
  ownErrors: number
  /** requests after an answer that ended the connection */
  unanswered: number
  /** connections whose end was lost to the reset of a cut */
  lostToReset: number
  /** HTTP/1.0 answers that ended with the connection (de-chunked, or read until the node closed) */
  http10UntilClose: number
  /** upgrades switched, and tunnels whose echo came back whole */
  switched: number
  /** upgrades a node declined */
  declined: number
  /** connections over TLS */
  tls: number
}

/** the node faulted on the first attempt once its head was out (the answer had begun) */
function faultAfterHead(plan: NodePlan): boolean {
  return plan.fault !== 'none' && plan.cutAt >= plan.headEnd
}

/**
 * the node faulted before its head was whole; a reset after it may count too: a reset can
 * take with it bytes cutover had not read yet
 */
function faultBeforeHead(plan: NodePlan, ...faults: NodePlan['fault'][]): boolean {
  return faults.includes(plan.fault) && (plan.cutAt < plan.headEnd || plan.fault === 'reset')
}

function firstDifference(got: Buffer, want: Buffer): string {
  let i = 0
  while (i < got.length && i < want.length && got[i] === want[i]) i++
  const show = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, i - 16), i + 48).toString('latin1'))
  return `first difference at byte ${i} of ${got.length} (want ${want.length}): got ${show(got)}, want ${show(want)}`
}

/**
 * Why what the client read is wrong, or null. seen: how many times a node read each
 * request's head. A connection whose client half-closed or left is not judged here: only
 * that nothing of it leaks.
 */
/**
 * When, by performance.now() in the one process that runs cutover and the nodes, a node's
 * answer head was all written (for the request's latest attempt), and when cutover judged
 * each request's deadline: a 504 for a node that wrote its head in time is cutover's fault,
 * one for a node the machine's load held up past request_timeout is not.
 */
export interface Timing {
  headsWhole: ReadonlyMap<number, number>
  expired: ReadonlyMap<number, number>
}

/**
 * ms before cutover judged a deadline within which a head written counts as a race at the
 * deadline: written in the event loop's turn that judged it (cutover reads it in the next)
 */
const DEADLINE_RACE_MS = 100

export function judge(conn: ScriptedConnection, got: Received, seen: ReadonlyMap<number, number>, tally: Tally, timing?: Timing): string | null {
  if (conn.tls) tally.tls++
  if (conn.fault === 'half-close' || conn.fault === 'destroy') return got.hung ? `connection ${conn.n}: still open ${conn.fault === 'half-close' ? 'after the client half-closed' : ''}` : null
  const { data } = got
  let off = 0
  /** an answer before ended the connection */
  let ended = false
  /** where the answer before started, for a failure's message */
  let before = 0
  // cutover ends the connection when a node fails after its head; a reset then (an HTTP/1.0
  // client's answer that ends with the connection) may take with it what the client had not
  // read yet, of that answer and of those before it: what is missing from request k on is
  // explained by such a cut
  const reset = got.reset || got.cutoverReset
  const lostToReset = (k: number) => reset && conn.requests.slice(k).some((r) => seen.get(r.id) === 1 && faultAfterHead(r.plan))
  const fail = (k: number, what: string) => {
    const r = conn.requests[k]
    return `connection ${conn.n} (${conn.mode}, HTTP/${conn.version}${conn.tls ? ', TLS' : ''}, client ${conn.fault}) request ${r.id} (#${k + 1} of ${conn.requests.length}, ${r.method}${r.upgrade ? ` upgrade, ${r.tunnel.length} tunnel bytes` : ''}, body ${r.body}${r.close ? ', Connection: close' : ''}; node saw it ${seen.get(r.id) ?? 0} times): ${what}; plan ${describePlan(r.plan)}`
  }
  /** requests after the connection's last answer must never have reached a node */
  const neverSent = (from: number): string | null => {
    for (let k = from; k < conn.requests.length; k++) if ((seen.get(conn.requests[k].id) ?? 0) > 0) return fail(k, 'sent to a node after the answer that ended the connection')
    return null
  }
  for (let k = 0; k < conn.requests.length; k++) {
    const r = conn.requests[k]
    const reading = readAnswer(data, off, r, got.closed)
    const after = k === 0 ? 'nothing' : `the answer to request ${conn.requests[k - 1].id}`
    if (reading.kind === 'garbage') return fail(k, `garbage where its answer should start, after ${after}: ${JSON.stringify(data.subarray(reading.at, reading.at + 80).toString('latin1'))}`)
    if (reading.kind === 'none') {
      if (got.hung) return fail(k, `no answer and the connection still open${off < data.length ? `, holding ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}` : ''}`)
      if (lostToReset(k)) {
        tally.lostToReset++
        return null
      }
      if (off < data.length) return fail(k, `the connection closed after part of a head: ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}`)
      if (!ended) return fail(k, 'the connection closed without an answer, and no answer before ended it')
      tally.unanswered += conn.requests.length - k
      return neverSent(k)
    }
    const a = reading.answer
    if (ended) return fail(k, `an answer (${a.status}) after one that ended the connection: ${JSON.stringify(data.subarray(before, Math.min(off, before + 300)).toString('latin1'))}`)
    if (got.hung && a.switched) return fail(k, `a tunnel still open at the deadline, ${a.body.length} of ${r.tunnel.length} bytes echoed`)
    if (!a.whole && lostToReset(k)) {
      tally.lostToReset++
      return null
    }
    const why = judgeAnswer(conn, r, a, seen.get(r.id) ?? 0, got, tally, timing)
    if (why !== null) return fail(k, why)
    if (!a.whole || a.untilClose) return neverSent(k + 1)
    before = off
    off = a.end
    ended = endsWithIt(conn, a)
    if (endsConnection(conn, r) && !ended) return fail(k, `the answer to a request that ends its connection does not say so: ${JSON.stringify(a.fields.get('connection') ?? null)}`)
  }
  if (off < data.length) return fail(conn.requests.length - 1, `bytes after its answer, the last: ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}`)
  return null
}

function judgeAnswer(conn: ScriptedConnection, r: ScriptedRequest, a: Answer, seen: number, got: Received, tally: Tally, timing: Timing | undefined): string | null {
  const plan = r.plan
  const http10 = conn.version !== '1.1'
  if (http10 && a.interim > 0) return `${a.interim} 1xx answer(s) to an HTTP/1.0 client`
  const id = a.fields.get('x-id')
  if (id === undefined) {
    // cutover's own answer: 502 for a node that failed before its head, 504 for one that
    // stalled there or for a request that never reached a node (a wait at the cap)
    tally.ownErrors++
    const own = `cutover's own ${a.status}`
    if (!a.whole) return `${own}, cut`
    if (r.method !== 'HEAD' && !/"message"/.test(a.body.toString('latin1'))) return `${own} without its message: ${JSON.stringify(a.body.toString('latin1'))}`
    if (a.status === 502) return faultBeforeHead(plan, 'cut', 'reset') ? null : `${own} for a node that did not fail before its head`
    if (a.status === 504) {
      const queued = seen === 0 || (seen === 1 && faultBeforeHead(plan, 'cut', 'reset') && r.method !== 'POST')
      if (queued || faultBeforeHead(plan, 'stall')) return null
      const late = lateHead(timing, r.id)
      return late === null ? null : `${own} for a node that did not stall before its head, and the request reached it${late}`
    }
    return `${own}, which no node explains`
  }
  if (id !== String(r.id)) return `the answer of request ${id} (desync)`
  if (a.status !== plan.status) return `status ${a.status}, want ${plan.status}`
  // the answer came from the first attempt: its fault shows in it
  const faulted = seen === 1 && faultAfterHead(plan)
  if (a.switched) {
    // the tunnel echoes every byte sent after the head, until its node faults
    tally.switched++
    const echo = a.body
    if (!echo.equals(r.tunnel) && !(faulted && r.tunnel.subarray(0, echo.length).equals(echo))) return `the tunnel's echo: ${firstDifference(echo, r.tunnel)}`
    return null
  }
  if (r.upgrade) {
    tally.declined++
    if (!/\bclose\b/i.test(a.fields.get('connection') ?? '')) return `a declined upgrade's answer without Connection: close`
  }
  if (http10 && /chunked/i.test(a.fields.get('transfer-encoding') ?? '')) return 'a chunked answer to an HTTP/1.0 client'
  const want = r.method === 'HEAD' || plan.status === 204 || plan.status === 304 ? Buffer.alloc(0) : bodyFor(r.id, plan.bodyLength)
  if (!a.whole) {
    tally.cut++
    return faulted ? null : `a cut answer from a node that sent it whole: ${firstDifference(a.body, want)}`
  }
  tally.whole++
  if (a.untilClose && http10) tally.http10UntilClose++
  if (faulted && a.body.length <= want.length && want.subarray(0, a.body.length).equals(a.body)) {
    // a cut answer read as whole: only where nobody can tell, a body the node ends by
    // closing its connection, which it closed (not reset, not stalled)
    if (plan.kind === 'until-close' && plan.fault === 'cut') return null
    // an answer that ends with the connection: the cut must show as a TCP reset (over TLS, a
    // close without close_notify)
    if (a.untilClose) return got.reset || got.cutoverReset ? null : `a cut answer that ends with a plain close, as if whole (no reset): ${a.body.length} of ${want.length} bytes`
    if (!a.body.equals(want)) return `a cut answer that looks whole: ${firstDifference(a.body, want)}`
  }
  if (!a.body.equals(want)) return `the body differs: ${firstDifference(a.body, want)}`
  if (a.untilClose && got.cutoverReset) return 'a whole answer that ends with a reset'
  if (plan.kind === 'chunked' && r.method !== 'HEAD' && !http10) {
    const trailers = plan.trailers ? `x-trailer: ${r.id}\r\n` : ''
    if (a.trailers !== trailers) return `trailers ${JSON.stringify(a.trailers)}, want ${JSON.stringify(trailers)}`
  }
  return null
}

/**
 * null when the node's head to request id was not written by DEADLINE_RACE_MS before cutover
 * judged its deadline (the machine held the node up: the 504 is right); else what the times
 * were. Without timing, every such 504 is wrong.
 */
function lateHead(timing: Timing | undefined, id: number): string | null {
  if (timing === undefined) return ''
  const expired = timing.expired.get(id)
  const whole = timing.headsWhole.get(id)
  if (expired === undefined) return ': cutover judged no deadline for it'
  if (whole === undefined || whole > expired - DEADLINE_RACE_MS) return null
  return `: its head was all written ${(expired - whole).toFixed(0)} ms before cutover judged the deadline`
}
