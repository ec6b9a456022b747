/**
 * Request and response heads parsed straight from a socket's bytes: one pass over the
 * lines, every byte checked against the RFC 9112 grammar, and the framing decided. Pure:
 * a Buffer in, a head or a refusal with its reason out. Never more lenient than llhttp.
 */

import { ALPHA, AUTHORITY, bytesEqualLower, COLON, COMMA, CR, EQUALS, FIELD_VALUE, HTAB, latin1, LF, SP, TARGET, TOKEN } from './chars.js'
import { CHUNKED, type FieldLines, type Framing, NO_BODY, PARTIAL, type ParseResult, type RequestHead, type ResponseHead, UNTIL_CLOSE } from './types.js'

/** The methods llhttp knows (Node 20 and 24 agree); anything else it refuses, and so do we. */
const METHODS = new Set([
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
])

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')

/** Refusal reasons, as static strings. */
export const REFUSAL = {
  headTooLarge: 'head too large',
  bareLineEnd: 'bare CR or LF as a line end',
  badRequestLine: 'malformed request line',
  badMethod: 'unknown method',
  connect: 'CONNECT is not supported',
  badTarget: 'bad character in request-target',
  targetForm: 'request-target neither origin-form, absolute-form nor *',
  tabAfterFraming: 'HTAB after a Content-Length or Transfer-Encoding value',
  badVersion: 'malformed HTTP version',
  unsupportedVersion: 'HTTP version not supported',
  obsFold: 'obs-fold (header continuation line)',
  badFieldName: 'bad character in header name',
  spaceBeforeColon: 'whitespace between header name and colon',
  noColon: 'header line without a colon',
  badFieldValue: 'bad character in header value',
  duplicateHost: 'duplicate Host header',
  missingHost: 'HTTP/1.1 request without Host',
  badContentLength: 'malformed Content-Length',
  duplicateContentLength: 'repeated Content-Length header',
  transferEncodingHttp10: 'Transfer-Encoding in an HTTP/1.0 message',
  transferEncodingNotChunked: 'Transfer-Encoding other than a single chunked',
  duplicateTransferEncoding: 'repeated Transfer-Encoding header',
  lengthAndChunked: 'Content-Length with Transfer-Encoding',
  badStatusLine: 'malformed status line',
} as const

type Refused = { kind: 'refused'; status: number; reason: string }

const refusals = new Map<string, Refused>()
/** The (shared, frozen) refusal for status and reason. */
function refuse(status: number, reason: string): Refused {
  const key = `${status} ${reason}`
  let r = refusals.get(key)
  if (r === undefined) {
    r = Object.freeze({ kind: 'refused' as const, status, reason })
    refusals.set(key, r)
  }
  return r
}

/** What the field lines said about framing and connection handling. */
class Fields {
  /** the fields as strings, [name0, value0, ...]: left empty when the head's strings are made later (lazy) */
  headers: string[] = []
  /** fields read */
  count = 0
  /** ResponseHead.hopFields as read so far */
  hopFields = 0
  /** the fields a request does not relay as sent beyond those: Expect, X-Forwarded-* (bits as hopFields) */
  requestHops = 0
  /** the X-Forwarded-For fields (bits as hopFields) */
  forwardedFor = 0
  /** a Connection (or Proxy-Connection) value names something other than close, keep-alive, upgrade */
  namesOther = false
  /** FieldLines of the head's text, filled only when the head is one string (text not null) */
  lineStarts: number[] = []
  hosts = 0
  hostIndex = -1
  lengths = 0
  /** -1: none; -2: malformed */
  length = -1
  encodings = 0
  chunked = false
  close = false
  keepAlive = false
  upgradeToken = false
  upgradeHeader = false
  /** an Upgrade value other than exactly `h2c` was read */
  upgradeOther = false
  expectContinue = false
  /** a Keep-Alive field's timeout parameter in seconds (the last one read), -1 when none */
  keepAliveTimeout = -1
  /** the refusal reason met in the fields, or null */
  error: string | null = null
  /** offset just after the empty line ending the head; 0 while partial */
  end = 0
}

/**
 * Parse the field lines from pos up to and including the empty line. Sets fields.end, or
 * fields.error, or leaves end 0 when the head is incomplete. Throws nothing. lazy (only
 * with text): make no strings; fieldStrings() makes them from text and lineStarts.
 */
function parseFields(buf: Buffer, pos: number, limit: number, f: Fields, text: string | null, base: number, lazy: boolean): void {
  const headers = f.headers
  for (;;) {
    // the usual line, `token:value` CRLF with every value byte a field-value byte, in one
    // pass; anything else (the empty line, a line not all here, one to refuse) in checkedLine
    let nameEnd = pos
    while (nameEnd < limit && TOKEN[buf[nameEnd]] === 1) nameEnd++
    let eol = -1
    if (nameEnd > pos && nameEnd < limit && buf[nameEnd] === COLON) {
      let j = nameEnd + 1
      while (j < limit && FIELD_VALUE[buf[j]] === 1) j++
      if (j + 1 < limit && buf[j] === CR && buf[j + 1] === LF) eol = j
    }
    if (eol < 0) {
      eol = checkedLine(buf, pos, limit, f, text, base)
      if (eol < 0) return
      nameEnd = pos
      while (TOKEN[buf[nameEnd]] === 1) nameEnd++
    }
    // the value, trimmed of OWS
    let vs = nameEnd + 1
    while (vs < eol && (buf[vs] === SP || buf[vs] === HTAB)) vs++
    let ve = eol
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--
    if (noteField(buf, pos, nameEnd - pos, vs, ve, eol, f, f.count) !== null) return
    f.count++
    // substrings of the head's one latin1 string when it is whole: one copy out of the buffer, not two per field
    if (text === null) headers.push(latin1(buf, pos, nameEnd), latin1(buf, vs, ve))
    else if (!lazy) headers.push(text.slice(pos - base, nameEnd - base), text.slice(vs - base, ve - base))
    if (text !== null) f.lineStarts.push(vs === nameEnd + 2 && ve === eol && buf[nameEnd + 1] === SP ? pos - base : ~(pos - base))
    pos = eol + 2
  }
}

/**
 * The line at pos found by its LF, then checked: the offset of its CR when it is a valid
 * field line; else -1, with f.end set (the empty line: the head is whole), f.error set
 * (the line is refused), or neither (no complete line yet).
 */
function checkedLine(buf: Buffer, pos: number, limit: number, f: Fields, text: string | null, base: number): number {
  const lf = findLF(buf, pos, limit)
  if (lf < 0) {
    // no complete line yet: a bare CR in what has arrived is refused now, not at the size limit
    return -1
  }
  if (lf === pos || buf[lf - 1] !== CR) {
    f.error = REFUSAL.bareLineEnd
    return -1
  }
  const eol = lf - 1
  if (eol === pos) {
    if (text !== null) f.lineStarts.push(pos - base)
    f.end = lf + 1
    return -1
  }
  const first = buf[pos]
  if (first === SP || first === HTAB) {
    f.error = REFUSAL.obsFold
    return -1
  }
  // the name: token characters up to the colon
  let i = pos
  while (i < eol && TOKEN[buf[i]] === 1) i++
  if (i === eol) {
    f.error = REFUSAL.noColon
    return -1
  }
  const c = buf[i]
  if (c !== COLON) {
    f.error = c === SP || c === HTAB ? REFUSAL.spaceBeforeColon : i === pos ? REFUSAL.noColon : REFUSAL.badFieldName
    return -1
  }
  if (i === pos) {
    f.error = REFUSAL.badFieldName
    return -1
  }
  // the value (OWS aside): every byte a field-value byte
  let vs = i + 1
  while (vs < eol && (buf[vs] === SP || buf[vs] === HTAB)) vs++
  let ve = eol
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--
  for (let k = vs; k < ve; k++) {
    if (FIELD_VALUE[buf[k]] !== 1) {
      f.error = REFUSAL.badFieldValue
      return -1
    }
  }
  return eol
}

/**
 * The first LF in buf[from, limit), or -1. A loop: a head's lines are a few dozen bytes,
 * where a native indexOf call per line cost more than the scan (2% of the proxy's CPU
 * for a small GET, issue 10).
 */
function findLF(buf: Buffer, from: number, limit: number): number {
  for (let i = from; i < limit; i++) if (buf[i] === LF) return i
  return -1
}

/** Mark field k hop-by-hop in f.hopFields (bits 0 to 29; beyond, the names are read instead). */
function hop(f: Fields, k: number): void {
  if (k < 30) f.hopFields |= 1 << k
}

/** Mark field k as one a request does not relay as sent (Expect, X-Forwarded-*). */
function requestHop(f: Fields, k: number): void {
  if (k < 30) f.requestHops |= 1 << k
}

/**
 * Record what field k means for framing and whether its name makes it hop-by-hop; returns
 * the refusal reason (also in f.error) or null.
 */
function noteField(buf: Buffer, ns: number, nlen: number, vs: number, ve: number, eol: number, f: Fields, k: number): string | null {
  switch (nlen) {
    case 2:
      if (bytesEqualLower(buf, ns, 'te')) hop(f, k)
      return null
    case 4:
      if (bytesEqualLower(buf, ns, 'host')) {
        if (++f.hosts > 1) return (f.error = REFUSAL.duplicateHost)
        f.hostIndex = 2 * k
      }
      return null
    case 6:
      if (bytesEqualLower(buf, ns, 'expect')) {
        requestHop(f, k)
        if (ve - vs === 12 && bytesEqualLower(buf, vs, '100-continue')) f.expectContinue = true
      }
      return null
    case 7:
      if (bytesEqualLower(buf, ns, 'upgrade')) {
        f.upgradeHeader = true
        if (ve - vs !== 3 || !bytesEqualLower(buf, vs, 'h2c')) f.upgradeOther = true
        hop(f, k)
      } else if (bytesEqualLower(buf, ns, 'trailer')) {
        hop(f, k)
      }
      return null
    case 10:
      if (bytesEqualLower(buf, ns, 'connection')) {
        connectionTokens(buf, vs, ve, f)
        hop(f, k)
      } else if (bytesEqualLower(buf, ns, 'keep-alive')) {
        const seconds = keepAliveTimeout(buf, vs, ve)
        if (seconds >= 0) f.keepAliveTimeout = seconds
        hop(f, k)
      }
      return null
    case 14:
      // HTTP2-Settings goes with an h2c upgrade, which is between the client and cutover
      if (bytesEqualLower(buf, ns, 'http2-settings')) {
        requestHop(f, k)
        return null
      }
      if (bytesEqualLower(buf, ns, 'content-length')) {
        if (++f.lengths > 1) return (f.error = REFUSAL.duplicateContentLength)
        if (tabAfter(buf, ve, eol)) return (f.error = REFUSAL.tabAfterFraming)
        const n = decimal(buf, vs, ve)
        if (n < 0) return (f.error = REFUSAL.badContentLength)
        f.length = n
      }
      return null
    case 15:
      if (bytesEqualLower(buf, ns, 'x-forwarded-for')) {
        requestHop(f, k)
        if (k < 30) f.forwardedFor |= 1 << k
      }
      return null
    case 16:
      // llhttp reads Proxy-Connection as Connection: so do we, or the two would disagree on keep-alive
      if (bytesEqualLower(buf, ns, 'proxy-connection')) {
        connectionTokens(buf, vs, ve, f)
        hop(f, k)
      } else if (bytesEqualLower(buf, ns, 'x-forwarded-host')) {
        requestHop(f, k)
      }
      return null
    case 17:
      if (bytesEqualLower(buf, ns, 'transfer-encoding')) {
        hop(f, k)
        if (++f.encodings > 1) return (f.error = REFUSAL.duplicateTransferEncoding)
        if (tabAfter(buf, ve, eol)) return (f.error = REFUSAL.tabAfterFraming)
        f.chunked = ve - vs === 7 && bytesEqualLower(buf, vs, 'chunked')
        if (!f.chunked) return (f.error = REFUSAL.transferEncodingNotChunked)
      } else if (bytesEqualLower(buf, ns, 'x-forwarded-proto')) {
        requestHop(f, k)
      }
      return null
    default:
      return null
  }
}

/** llhttp refuses an HTAB in the whitespace after a framing value (a space is fine). */
function tabAfter(buf: Buffer, ve: number, eol: number): boolean {
  for (let i = ve; i < eol; i++) if (buf[i] === HTAB) return true
  return false
}

/**
 * The forms of request-target llhttp takes: origin-form (`/...`), `*`, or absolute-form
 * (`scheme://authority...`, the scheme letters only, the authority in AUTHORITY up to `/`
 * or `?`). Authority-form is CONNECT's, refused anyway.
 */
function targetFormOk(buf: Buffer, ts: number, te: number): boolean {
  const c = buf[ts]
  if (c === 0x2f) return true
  if (c === 0x2a) return te - ts === 1
  let i = ts
  while (i < te && ALPHA[buf[i]] === 1) i++
  if (i === ts || te - i < 3 || buf[i] !== COLON || buf[i + 1] !== 0x2f || buf[i + 2] !== 0x2f) return false
  for (i += 3; i < te; i++) {
    const b = buf[i]
    if (b === 0x2f || b === 0x3f) return true
    if (AUTHORITY[b] !== 1) return false
  }
  return true
}

/** A Content-Length value: 1 to 15 digits (below 2^53), else -1. No sign, no space, no list. */
function decimal(buf: Buffer, start: number, end: number): number {
  const n = end - start
  if (n === 0 || n > 15) return -1
  let v = 0
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/** Past the OWS and commas before a list element (RFC 9110 5.6.1) from i. */
function listItemStart(buf: Buffer, i: number, end: number): number {
  while (i < end && (buf[i] === SP || buf[i] === HTAB || buf[i] === COMMA)) i++
  return i
}

/** The comma ending the list element at i (or end). */
function listItemEnd(buf: Buffer, i: number, end: number): number {
  while (i < end && buf[i] !== COMMA) i++
  return i
}

/** end moved back over trailing OWS, not before start. */
function trimmedEnd(buf: Buffer, start: number, end: number): number {
  while (end > start && (buf[end - 1] === SP || buf[end - 1] === HTAB)) end--
  return end
}

/** i moved over OWS, not past end. */
function skipOWS(buf: Buffer, i: number, end: number): number {
  while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++
  return i
}

/**
 * The timeout parameter of a Keep-Alive value (`timeout=5, max=1000`, RFC 2068 19.7.1):
 * whole seconds, or -1 when there is none or it is not a plain decimal of up to 9 digits.
 */
function keepAliveTimeout(buf: Buffer, start: number, end: number): number {
  for (let i = listItemStart(buf, start, end); i < end; ) {
    const next = listItemEnd(buf, i, end)
    const last = trimmedEnd(buf, i, next)
    if (last - i > 8 && bytesEqualLower(buf, i, 'timeout')) {
      const eq = skipOWS(buf, i + 7, last)
      if (buf[eq] === EQUALS) {
        const digits = skipOWS(buf, eq + 1, last)
        return last - digits > 9 ? -1 : decimal(buf, digits, last)
      }
    }
    i = listItemStart(buf, next, end)
  }
  return -1
}

/** The close / keep-alive / upgrade tokens of a Connection value. */
function connectionTokens(buf: Buffer, start: number, end: number, f: Fields): void {
  for (let i = listItemStart(buf, start, end); i < end; ) {
    const next = listItemEnd(buf, i, end)
    const n = trimmedEnd(buf, i, next) - i
    if (n === 5 && bytesEqualLower(buf, i, 'close')) f.close = true
    else if (n === 10 && bytesEqualLower(buf, i, 'keep-alive')) f.keepAlive = true
    else if (n === 7 && bytesEqualLower(buf, i, 'upgrade')) f.upgradeToken = true
    else if (n > 0) f.namesOther = true
    i = listItemStart(buf, next, end)
  }
}

/** "HTTP/1.x" at pos: the minor version 0 or 1; -1 malformed; -2 a well-formed other version. */
function version(buf: Buffer, pos: number): number {
  if (buf[pos] !== 0x48 || buf[pos + 1] !== 0x54 || buf[pos + 2] !== 0x54 || buf[pos + 3] !== 0x50 || buf[pos + 4] !== 0x2f) return -1
  const major = buf[pos + 5] - 0x30
  const minor = buf[pos + 7] - 0x30
  if (buf[pos + 6] !== 0x2e || major < 0 || major > 9 || minor < 0 || minor > 9) return -1
  if (major !== 1 || minor > 1) return -2
  return minor
}

/** Leading empty lines (CRLF) before a request line are skipped, as RFC 9112 2.2 allows. */
function skipEmptyLines(buf: Buffer): number {
  let pos = 0
  while (pos + 1 < buf.length && buf[pos] === CR && buf[pos + 1] === LF) pos += 2
  return pos
}

/** Parse one request head starting at buf[0]. maxHeadSize: bytes allowed for the whole head (=> 431). */
export function parseRequestHead(buf: Buffer, maxHeadSize: number): ParseResult<RequestHead> {
  const start = skipEmptyLines(buf)
  const limit = Math.min(buf.length, start + maxHeadSize)
  const lf = findLF(buf, start, limit)
  if (lf < 0) return partialOrTooLarge(buf, start, limit, maxHeadSize)
  if (buf[lf - 1] !== CR || lf === start) return refuse(400, REFUSAL.bareLineEnd)
  const eol = lf - 1
  // method
  let i = start
  while (i < eol && TOKEN[buf[i]] === 1) i++
  if (i === start || buf[i] !== SP) return refuse(400, i === start ? REFUSAL.badRequestLine : REFUSAL.badMethod)
  // the whole head as one string when it has arrived (the usual case); null while partial
  const end = buf.indexOf(HEAD_END, start)
  const text = end >= 0 && end + 4 <= limit ? latin1(buf, start, end + 4) : null
  const method = text === null ? latin1(buf, start, i) : text.slice(0, i - start)
  if (!METHODS.has(method)) return refuse(400, REFUSAL.badMethod)
  if (method === 'CONNECT') return refuse(501, REFUSAL.connect)
  // target
  const ts = ++i
  while (i < eol && TARGET[buf[i]] === 1) i++
  if (i === ts || buf[i] !== SP) return refuse(400, i === ts ? REFUSAL.badRequestLine : REFUSAL.badTarget)
  if (!targetFormOk(buf, ts, i)) return refuse(400, REFUSAL.targetForm)
  const target = text === null ? latin1(buf, ts, i) : text.slice(ts - start, i - start)
  // version, then the line end
  i++
  if (eol - i !== 8) return refuse(400, REFUSAL.badVersion)
  const minor = version(buf, i)
  if (minor === -1) return refuse(400, REFUSAL.badVersion)
  if (minor === -2) return refuse(505, REFUSAL.unsupportedVersion)
  const f = new Fields()
  parseFields(buf, lf + 1, limit, f, text, start, text !== null)
  if (f.error !== null) return refuse(400, f.error)
  if (f.end === 0) return partialOrTooLarge(buf, start, limit, maxHeadSize)
  if (f.hosts === 0 && minor === 1) return refuse(400, REFUSAL.missingHost)
  let framing: Framing = NO_BODY
  if (f.encodings > 0) {
    if (minor === 0) return refuse(400, REFUSAL.transferEncodingHttp10)
    if (f.lengths > 0) return refuse(400, REFUSAL.lengthAndChunked)
    framing = CHUNKED
  } else if (f.length > 0) {
    framing = { kind: 'length', length: f.length }
  }
  const head = new ParsedRequest(method, target, minor as 0 | 1, framing, f, text)
  return { kind: 'head', head, length: f.end }
}

/** No complete head in buf: partial while under the limit, else 431. A bare LF is refused at once. */
function partialOrTooLarge(buf: Buffer, start: number, limit: number, maxHeadSize: number): Refused | typeof PARTIAL {
  // a line ended by a bare LF would never complete a head: refuse it now, like llhttp
  let lf = buf.indexOf(LF, start)
  while (lf >= 0 && lf < limit) {
    if (lf === start || buf[lf - 1] !== CR) return refuse(400, REFUSAL.bareLineEnd)
    lf = buf.indexOf(LF, lf + 1)
  }
  return buf.length - start >= maxHeadSize ? refuse(431, REFUSAL.headTooLarge) : PARTIAL
}

/** Parse one response head; requestMethod decides HEAD's framing. */
export function parseResponseHead(buf: Buffer, maxHeadSize: number, requestMethod: string): ParseResult<ResponseHead> {
  const limit = Math.min(buf.length, maxHeadSize)
  const lf = findLF(buf, 0, limit)
  if (lf < 0) return partialOrTooLarge(buf, 0, limit, maxHeadSize)
  if (lf === 0 || buf[lf - 1] !== CR) return refuse(400, REFUSAL.bareLineEnd)
  const eol = lf - 1
  // "HTTP/1.x SSS[ reason]"
  if (eol < 12) return refuse(400, REFUSAL.badStatusLine)
  const minor = version(buf, 0)
  if (minor < 0 || buf[8] !== SP) return refuse(minor === -2 ? 505 : 400, minor === -2 ? REFUSAL.unsupportedVersion : REFUSAL.badStatusLine)
  const d0 = buf[9] - 0x30
  const d1 = buf[10] - 0x30
  const d2 = buf[11] - 0x30
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return refuse(400, REFUSAL.badStatusLine)
  const status = d0 * 100 + d1 * 10 + d2
  let reason = ''
  if (eol > 12) {
    if (buf[12] !== SP) return refuse(400, REFUSAL.badStatusLine)
    for (let k = 13; k < eol; k++) if (FIELD_VALUE[buf[k]] !== 1) return refuse(400, REFUSAL.badStatusLine)
    reason = latin1(buf, 13, eol)
  }
  const end = buf.indexOf(HEAD_END)
  const text = end >= 0 && end + 4 <= limit ? latin1(buf, 0, end + 4) : null
  const f = new Fields()
  parseFields(buf, lf + 1, limit, f, text, 0, text !== null)
  if (f.error !== null) return refuse(400, f.error)
  if (f.end === 0) return partialOrTooLarge(buf, 0, limit, maxHeadSize)
  // refused whatever the status: llhttp does
  if (f.encodings > 0 && f.lengths > 0) return refuse(400, REFUSAL.lengthAndChunked)
  let framing: Framing
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) {
    framing = NO_BODY
  } else if (f.encodings > 0) {
    if (minor === 0) return refuse(400, REFUSAL.transferEncodingHttp10)
    framing = CHUNKED
  } else if (f.length >= 0) {
    framing = f.length === 0 ? NO_BODY : { kind: 'length', length: f.length }
  } else {
    framing = UNTIL_CLOSE
  }
  const keepAlive = framing !== UNTIL_CLOSE && (minor === 1 ? !f.close : f.keepAlive && !f.close)
  const head = new ParsedResponse(status, reason, minor as 0 | 1, framing, keepAlive, f, text)
  return { kind: 'head', head, length: f.end }
}

/**
 * The field lines of a parsed head: its text, where each line starts, and its header
 * strings, made on first use (or, for a head parsed without its whole text, as it was read).
 */
abstract class ParsedFields {
  #headers: string[] | undefined
  readonly text: string | undefined
  readonly lineStarts: FieldLines | undefined

  constructor(f: Fields, text: string | null) {
    this.#headers = text === null ? f.headers : undefined
    this.text = text ?? undefined
    this.lineStarts = text === null ? undefined : f.lineStarts
  }

  get headers(): string[] {
    return (this.#headers ??= fieldStrings(this.text!, this.lineStarts!))
  }
}

/** hopFields of a head: f's marks and more, or -1 where the names must be read instead. */
function hopMarks(f: Fields, text: string | null, more: number): number {
  return f.count > 30 || f.namesOther || text === null ? -1 : f.hopFields | more
}

/** A request head from parseRequestHead. */
class ParsedRequest extends ParsedFields implements RequestHead {
  readonly keepAlive: boolean
  readonly expectContinue: boolean
  readonly upgrade: boolean
  readonly h2cUpgrade: boolean
  readonly hostIndex: number
  readonly hopFields: number
  readonly forwardedFor: number

  constructor(
    readonly method: string,
    readonly target: string,
    readonly versionMinor: 0 | 1,
    readonly framing: Framing,
    f: Fields,
    text: string | null,
  ) {
    super(f, text)
    this.keepAlive = versionMinor === 1 ? !f.close : f.keepAlive && !f.close
    this.expectContinue = f.expectContinue
    // an HTTP/1.0 request's Upgrade is ignored (RFC 9110 7.8: a server MUST ignore it): no
    // switch can follow, so it is an ordinary request whose Upgrade, hop-by-hop, goes nowhere
    this.upgrade = versionMinor === 1 && f.upgradeToken && f.upgradeHeader
    this.h2cUpgrade = this.upgrade && !f.upgradeOther
    this.hostIndex = f.hostIndex
    this.hopFields = hopMarks(f, text, f.requestHops)
    this.forwardedFor = f.forwardedFor
  }
}

/** A response head from parseResponseHead. */
class ParsedResponse extends ParsedFields implements ResponseHead {
  readonly hopFields: number
  readonly keepAliveTimeout: number

  constructor(
    readonly status: number,
    readonly reason: string,
    readonly versionMinor: 0 | 1,
    readonly framing: Framing,
    readonly keepAlive: boolean,
    f: Fields,
    text: string | null,
  ) {
    super(f, text)
    this.hopFields = hopMarks(f, text, 0)
    this.keepAliveTimeout = f.keepAliveTimeout
  }
}

/**
 * The [name, value, ...] strings of a head's field lines, from its text and lineStarts
 * (the parser has checked every line: a name, a colon, a value between optional SP/HTAB).
 */
export function fieldStrings(text: string, starts: FieldLines): string[] {
  const out: string[] = []
  for (let k = 0; k + 1 < starts.length; k++) {
    const s = starts[k] < 0 ? ~starts[k] : starts[k]
    const colon = text.indexOf(':', s)
    out.push(text.slice(s, colon), fieldValue(text, starts, k))
  }
  return out
}

/** The value of field k, as fieldStrings makes it. */
export function fieldValue(text: string, starts: FieldLines, k: number): string {
  const s = starts[k] < 0 ? ~starts[k] : starts[k]
  const next = starts[k + 1] < 0 ? ~starts[k + 1] : starts[k + 1]
  let vs = text.indexOf(':', s) + 1
  let ve = next - 2
  while (vs < ve && isOws(text.charCodeAt(vs))) vs++
  while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--
  return text.slice(vs, ve)
}

/**
 * The value of field k of a head, made from its text where it has one (no other string
 * made), else read from its headers.
 */
export function headValue(head: RequestHead | ResponseHead, k: number): string {
  return head.text !== undefined && head.lineStarts !== undefined ? fieldValue(head.text, head.lineStarts, k) : head.headers[2 * k + 1]
}

/** Field k's name equals lower (a lower-case token), ignoring ASCII case: read in the head's text, no string made. */
export function fieldNameIs(text: string, starts: FieldLines, k: number, lower: string): boolean {
  const s = starts[k] < 0 ? ~starts[k] : starts[k]
  // a name ends at its colon and holds none: the colon right after says the lengths match
  if (text.charCodeAt(s + lower.length) !== COLON) return false
  for (let i = 0; i < lower.length; i++) {
    const c = text.charCodeAt(s + i)
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false
  }
  return true
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB
}
