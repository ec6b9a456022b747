/**
 * The oracle: Node's own llhttp parser (the one behind node:http), driven the way cutover's
 * old data plane drove it. Requests as http.Server did (insecureHTTPParser off, so no
 * lenient flags; the same maxHeaderSize; no Host check: requireHostHeader was false, and
 * cutover's stricter Host rules are allowed by the contract), responses as Node's client
 * does (no body for HEAD answers and 1xx interim answers).
 *
 * It is reached through `_http_common`, the module node:http itself uses: loadable with a
 * plain require on Node 20 and 24, no flag, no deprecation warning (process.binding would
 * warn). Its callbacks are the ones lib/_http_common.js installs.
 */
import { createRequire } from 'node:module'
import type { Message, Stream } from './stream.js'

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void
  execute(buf: Buffer): number | (Error & { code: string; reason?: string; bytesParsed?: number })
  finish(): undefined | (Error & { code: string; reason?: string })
  close(): void
  free(): void
  [key: number]: unknown
}
interface HTTPParserClass {
  new (): NativeParser
  REQUEST: number
  RESPONSE: number
  kOnHeaders: number
  kOnHeadersComplete: number
  kOnBody: number
  kOnMessageComplete: number
  kLenientNone: number
}

const common = createRequire(import.meta.url)('_http_common') as { HTTPParser: HTTPParserClass; methods: string[] }
const { HTTPParser, methods } = common

/** Which llhttp and Node judged: printed by the fuzz summary. */
export const oracleName = `llhttp ${process.versions.llhttp} (Node ${process.version})`

type Mode = 'request' | 'response'

/** What llhttp reported over one pass of the bytes. */
interface Pass {
  messages: Message[]
  /** offset just past each completed message, in order (byte-wise pass only) */
  ends: number[]
  error: { code: string; reason: string; at: number } | null
  /** the pass stopped early: an upgrade began, or a connection-closing message ended */
  stop: 'upgrade' | 'closed' | 'server-refused' | null
  serverReason: string
  /** 'hint' passes: the STRIDE chunks in which a message ended */
  hot: Set<number>
}

function newMessage(): Message {
  return {
    method: '',
    target: '',
    status: 0,
    reason: '',
    version: '',
    headers: [],
    keepAlive: false,
    upgrade: false,
    body: [],
    bodyBytes: 0,
    trailers: [],
    complete: false,
    end: -1,
  }
}

/**
 * How a pass feeds the bytes: all at once; in chunks of STRIDE bytes to learn which chunks
 * end a message ('hint'); or those chunks one byte per execute() and the rest whole
 * ('exact'), which tells where each message ends: llhttp keeps no offsets of its own.
 */
type Feeding = { kind: 'whole' } | { kind: 'hint' } | { kind: 'exact'; hot: ReadonlySet<number> }

const STRIDE = 64

/** The cut offsets of a feeding (the last is bytes.length). */
function cutsOf(feeding: Feeding, length: number): number[] {
  const cuts: number[] = []
  if (feeding.kind === 'whole') return [length]
  for (let start = 0, chunk = 0; start < length; start += STRIDE, chunk++) {
    const end = Math.min(length, start + STRIDE)
    if (feeding.kind === 'exact' && feeding.hot.has(chunk)) for (let i = start + 1; i <= end; i++) cuts.push(i)
    else cuts.push(end)
  }
  return cuts
}

/**
 * Feed bytes to a fresh parser as `feeding` says. methodOf gives, in response mode, the
 * method of the request the nth response answers.
 */
function pass(mode: Mode, bytes: Buffer, maxHeaderSize: number, feeding: Feeding, methodOf: (n: number) => string): Pass {
  const parser = new HTTPParser()
  parser.initialize(mode === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, maxHeaderSize, HTTPParser.kLenientNone)
  const out: Pass = { messages: [], ends: [], error: null, stop: null, serverReason: '', hot: new Set() }
  let current: Message | null = null
  let pendingHeaders: string[] = []
  let pendingUrl = ''
  let completed = 0
  const skipped = new Set<Message>()
  /** an HTTP/1.0 request's upgrade, which llhttp pauses after, read as an ordinary request */
  let ignoredUpgrade = false

  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    // before the head completes: the head's own fields, flushed early; after: trailers
    if (current && !current.complete) current.trailers.push(...headers)
    else {
      pendingHeaders.push(...headers)
      pendingUrl += url ?? ''
    }
  }
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    status: number | undefined,
    reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    const m = newMessage()
    m.headers = headers ?? pendingHeaders
    m.target = url ?? pendingUrl
    pendingHeaders = []
    pendingUrl = ''
    m.version = `${major}.${minor}`
    m.keepAlive = keepAlive
    m.upgrade = upgrade
    if (mode === 'request') {
      // Node's exported method list lags llhttp's (QUERY on Node 20): read a method it
      // lacks from the bytes, where llhttp accepted it
      m.method = methods[method as number] ?? methodAt(bytes, out.messages.length === 0 ? 0 : out.messages[out.messages.length - 1].end)
      // RFC 9110 7.8: "A server MUST ignore an Upgrade header field that is received in
      // an HTTP/1.0 request." llhttp reports one as an upgrade (and pauses after it);
      // cutover reads it as an ordinary request, and so does the oracle: the message and
      // its body's bounds are the same either way, and the bytes after it are the next
      // request's, read on past llhttp's pause (feed). Everything else is still compared
      ignoredUpgrade = upgrade && major === 1 && minor === 0 && m.method !== 'CONNECT'
      if (ignoredUpgrade) m.upgrade = false
    } else {
      m.status = status as number
      m.reason = reason ?? ''
      m.target = ''
    }
    current = m
    out.messages.push(m)
    if (mode === 'response') {
      // Node's client skips the body of a HEAD answer and of a 1xx interim answer
      const requestMethod = methodOf(out.messages.length - 1)
      if (requestMethod === 'HEAD' || (m.status >= 100 && m.status < 200 && m.status !== 101)) {
        skipped.add(m)
        return 1
      }
    }
    return 0
  }
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    if (!current) return
    current.body.push(Buffer.from(chunk))
    current.bodyBytes += chunk.length
  }
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (current) current.complete = true
    current = null
    completed++
  }

  const feed = (buf: Buffer, base: number): boolean => {
    for (;;) {
      const r = parser.execute(buf)
      if (typeof r !== 'number') {
        out.error = { code: r.code, reason: r.reason ?? r.message, at: base + (r.bytesParsed ?? 0) }
        return false
      }
      // node:http's binding stops at an upgrade, short of the bytes given, and resumes the
      // parser: past an ignored one (HTTP/1.0), the rest is HTTP and is read on
      if (r >= buf.length || !ignoredUpgrade) return true
      ignoredUpgrade = false
      buf = buf.subarray(r)
      base += r
    }
  }
  /** After a message completed: does the connection go on to another message? */
  const afterComplete = (m: Message): boolean => {
    if (mode === 'request' && m.upgrade) {
      // http.Server had no 'connect' listener: it destroyed the socket of every CONNECT
      if (m.method === 'CONNECT') {
        out.stop = 'server-refused'
        out.serverReason = 'CONNECT: http.Server destroys the socket without a connect listener'
        return false
      }
      out.stop = 'upgrade'
      return false
    }
    // a 101 ends HTTP on the connection whatever llhttp's flag says (it sets it only with
    // Connection: upgrade); the engine tunnels after a 101 to the upgrade it asked for
    if (mode === 'response' && (m.upgrade || m.status === 101)) {
      m.upgrade = true
      out.stop = 'upgrade'
      return false
    }
    if (!m.keepAlive && skipped.has(m)) {
      // llhttp hands over its keep-alive flag before it learns the body is skipped (so a
      // HEAD answer without Content-Length looks like read-until-close); what it does
      // next is what counts: it goes on reading unless the connection is closing
      m.keepAlive = readsOn(bytes.subarray(0, m.end), maxHeaderSize, methodOf)
    }
    if (!m.keepAlive) {
      out.stop = 'closed'
      return false
    }
    return true
  }

  try {
    let seen = 0
    let at = 0
    for (const cut of cutsOf(feeding, bytes.length)) {
      const ok = feed(bytes.subarray(at, cut), at)
      if (completed > seen && feeding.kind === 'hint') out.hot.add(Math.floor(at / STRIDE))
      if (completed > seen && feeding.kind === 'exact') {
        if (completed > seen + 1 || cut - at !== 1) throw new Error(`oracle: a message ended inside a chunk fed whole (${at}..${cut})`)
        const m = out.messages[out.messages.length - 1]
        m.end = cut
        out.ends.push(cut)
        if (!afterComplete(m)) break
      }
      seen = completed
      at = cut
      if (!ok) break
    }
    if (feeding.kind !== 'exact') return out
    // a response read until the connection closes ends at the end of the bytes
    if (mode === 'response' && out.error === null && out.stop === null) {
      const r = parser.finish()
      const last = out.messages[out.messages.length - 1]
      if (r instanceof Error) {
        // an incomplete message at EOF: llhttp calls that an error; cutover calls it
        // partial. Both mean the message never completed, so keep it as incomplete.
      } else if (last?.complete && last.end === -1) {
        last.end = bytes.length
        out.ends.push(bytes.length)
        afterComplete(last)
      }
    }
  } finally {
    parser.close()
  }
  return out
}

/** After the response(s) in prefix, does llhttp parse another one or call the connection closed? */
function readsOn(prefix: Buffer, maxHeaderSize: number, methodOf: (n: number) => string): boolean {
  const probe = Buffer.concat([prefix, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')])
  return pass('response', probe, maxHeaderSize, { kind: 'whole' }, methodOf).error?.code !== 'HPE_CLOSED_CONNECTION'
}

/** The request method at offset (after the empty lines llhttp skips). */
function methodAt(bytes: Buffer, offset: number): string {
  let i = Math.max(0, offset)
  while (bytes[i] === 13 || bytes[i] === 10) i++
  const space = bytes.indexOf(32, i)
  return bytes.toString('latin1', i, space < 0 ? bytes.length : space)
}

/** Parse a stream of requests (or of responses answering `methods`) the way node:http did. */
export function oracle(mode: Mode, bytes: Buffer, maxHeaderSize: number, requestMethods: readonly string[] = ['GET']): Stream {
  const methodOf = (n: number) => requestMethods[Math.min(n, requestMethods.length - 1)]
  // first learn which chunks end a message, then feed those byte by byte
  const hint = pass(mode, bytes, maxHeaderSize, { kind: 'hint' }, methodOf)
  const p = pass(mode, bytes, maxHeaderSize, { kind: 'exact', hot: hint.hot }, methodOf)
  const messages = p.messages
  // PRI (the HTTP/2 preface) and CONNECT never reached a handler
  if (p.error?.code === 'HPE_PAUSED_H2_UPGRADE') {
    return { messages, end: { kind: 'refused', reason: 'PRI: the HTTP/2 preface (llhttp pauses, http.Server destroys)', status: 400, inBody: false } }
  }
  if (p.stop === 'server-refused') {
    // the head llhttp accepted never reached a handler: it counts as refused at this message
    messages.pop()
    return { messages, end: { kind: 'server-refused', reason: p.serverReason, status: 0, inBody: false } }
  }
  if (p.error) {
    const last = messages[messages.length - 1]
    const inBody = last !== undefined && !last.complete
    const status = p.error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
    return { messages, end: { kind: 'refused', reason: `${p.error.code}: ${p.error.reason} (at byte ${p.error.at})`, status, inBody } }
  }
  if (p.stop === 'upgrade' || p.stop === 'closed') return { messages, end: { kind: p.stop, reason: '', status: 0, inBody: false } }
  // no refusal: the bytes ended between messages, or inside one (a head or a body not yet whole)
  const last = messages[messages.length - 1]
  return { messages, end: { kind: 'open', reason: '', status: 0, inBody: last !== undefined && !last.complete } }
}

/**
 * The same bytes fed in one execute(): the verdict must not depend on how the bytes were
 * split, or the oracle itself is not trustworthy (checked by the test, not per case).
 */
export function oracleWhole(mode: Mode, bytes: Buffer, maxHeaderSize: number, requestMethods: readonly string[] = ['GET']): { messages: number; error: string | null } {
  const methodOf = (n: number) => requestMethods[Math.min(n, requestMethods.length - 1)]
  const p = pass(mode, bytes, maxHeaderSize, { kind: 'whole' }, methodOf)
  return { messages: p.messages.length, error: p.error?.code ?? null }
}
