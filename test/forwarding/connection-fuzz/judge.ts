// What a fuzzed connection's client must have read (no tests here): each request's answer,
// in order, whole and its own, or cutover's own 502/504 where the node's plan explains it,
// or a visibly cut answer where the node cut after its head; nothing after an answer that
// said Connection: close.
import { bodyFor, describePlan, type NodePlan, type ScriptedConnection, type ScriptedRequest } from './script.js'

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
}

export type Reading = { kind: 'none' } | { kind: 'garbage'; at: number } | { kind: 'answer'; answer: Answer }

/** The answer to a request of method that starts at off in buf (1xx skipped); atEof: the connection closed. */
export function readAnswer(buf: Buffer, off: number, method: string, atEof: boolean): Reading {
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
    if (status < 200) {
      off = start
      continue
    }
    const answer = (end: number, body: Buffer, whole: boolean, trailers = '', untilClose = false): Reading => ({ kind: 'answer', answer: { status, fields, body, trailers, end, whole, untilClose } })
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
  /** the connection was reset (ECONNRESET, EPIPE): bytes cutover had sent may be lost with it */
  reset: boolean
}

/** Outcomes met, for the summary. */
export interface Tally {
  whole: number
  cut: number
  ownErrors: number
  /** requests after an answer that said Connection: close */
  unanswered: number
  /** connections whose end was lost to the reset of a cut */
  lostToReset: number
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
export function judge(conn: ScriptedConnection, got: Received, seen: ReadonlyMap<number, number>, tally: Tally): string | null {
  if (conn.fault === 'half-close' || conn.fault === 'destroy') return got.hung ? `connection ${conn.n}: still open ${conn.fault === 'half-close' ? 'after the client half-closed' : ''}` : null
  const { data } = got
  let off = 0
  let closeSaid = false
  // cutover cuts the connection when a node fails after its head; a reset then may take with
  // it what the client had not read yet, of that answer and of those before it (as nginx's
  // close would): what is missing from request k on is explained by such a cut
  const lostToReset = (k: number) => got.reset && conn.requests.slice(k).some((r) => seen.get(r.id) === 1 && faultAfterHead(r.plan))
  const fail = (k: number, what: string) => {
    const r = conn.requests[k]
    return `connection ${conn.n} (${conn.mode}, client ${conn.fault}) request ${r.id} (#${k + 1} of ${conn.requests.length}, ${r.method}, body ${r.body}${r.close ? ', Connection: close' : ''}; node saw it ${seen.get(r.id) ?? 0} times): ${what}; plan ${describePlan(r.plan)}`
  }
  for (let k = 0; k < conn.requests.length; k++) {
    const r = conn.requests[k]
    const reading = readAnswer(data, off, r.method, got.closed)
    const after = k === 0 ? 'nothing' : `the answer to request ${conn.requests[k - 1].id}`
    if (reading.kind === 'garbage') return fail(k, `garbage where its answer should start, after ${after}: ${JSON.stringify(data.subarray(reading.at, reading.at + 80).toString('latin1'))}`)
    if (reading.kind === 'none') {
      if (got.hung) return fail(k, `no answer and the connection still open${off < data.length ? `, holding ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}` : ''}`)
      if (lostToReset(k)) {
        tally.lostToReset++
        return null
      }
      if (off < data.length) return fail(k, `the connection closed after part of a head: ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}`)
      if (!closeSaid) return fail(k, 'the connection closed without an answer, and no answer before said Connection: close')
      tally.unanswered += conn.requests.length - k
      return null
    }
    const a = reading.answer
    if (closeSaid) return fail(k, `an answer after one that said Connection: close: ${a.status}`)
    if (!a.whole && lostToReset(k)) {
      tally.lostToReset++
      return null
    }
    const why = judgeAnswer(r, a, seen.get(r.id) ?? 0, tally)
    if (why !== null) return fail(k, why)
    if (!a.whole || a.untilClose) return null
    off = a.end
    closeSaid = /\bclose\b/i.test(a.fields.get('connection') ?? '')
  }
  if (off < data.length) return fail(conn.requests.length - 1, `bytes after its answer, the last: ${JSON.stringify(data.subarray(off, off + 80).toString('latin1'))}`)
  return null
}

function judgeAnswer(r: ScriptedRequest, a: Answer, seen: number, tally: Tally): string | null {
  const plan = r.plan
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
      return queued || faultBeforeHead(plan, 'stall') ? null : `${own} for a node that did not stall before its head, and the request reached it`
    }
    return `${own}, which no node explains`
  }
  if (id !== String(r.id)) return `the answer of request ${id} (desync)`
  const status = plan.kind === 'no-content' ? 204 : plan.kind === 'not-modified' ? 304 : 200
  if (a.status !== status) return `status ${a.status}, want ${status}`
  // the answer came from the first attempt: its fault shows in it
  const faulted = seen === 1 && faultAfterHead(plan)
  const want = r.method === 'HEAD' || status !== 200 ? Buffer.alloc(0) : bodyFor(r.id, plan.bodyLength)
  if (!a.whole) {
    tally.cut++
    return faulted ? null : `a cut answer from a node that sent it whole: ${firstDifference(a.body, want)}`
  }
  tally.whole++
  // a close-delimited body the node cut short looks whole to cutover too (relayed as it is to
  // an HTTP/1.0 client, chunked and ended to an HTTP/1.1 one): a prefix will do
  if ((a.untilClose || plan.kind === 'until-close') && faulted) return want.subarray(0, a.body.length).equals(a.body) ? null : firstDifference(a.body, want)
  if (!a.body.equals(want)) return `${faulted ? 'a cut answer that looks whole' : 'the body differs'}: ${firstDifference(a.body, want)}`
  if (plan.kind === 'chunked' && r.method !== 'HEAD') {
    const trailers = plan.trailers ? `x-trailer: ${r.id}\r\n` : ''
    if (a.trailers !== trailers) return `trailers ${JSON.stringify(a.trailers)}, want ${JSON.stringify(trailers)}`
  }
  return null
}
