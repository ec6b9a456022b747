/**
 * Header rewriting both ways, from the codec's heads (sender's case, order and duplicates
 * kept) straight to the head written on the other side, one latin1 string. A run of field
 * lines that pass unchanged and read exactly `name: value` is copied from the sender's
 * head in one slice (the codec's lineStarts), not rebuilt line by line: the same bytes,
 * fewer strings joined. Which fields do not pass, the codec marked as it read their names
 * (hopFields), so the usual head is rewritten without a string per field; the rest (an
 * upgrade, a Connection header naming fields, a head not from the codec) reads the flat
 * [name, value, ...] strings, names compared without lower-casing copies.
 */

import { equalLower } from '../http1/chars.js'
import { type FieldLines, fieldNameIs, fieldValue, type RequestHead, type ResponseHead } from '../http1/index.js'

// what a header name is to us; 0 = an ordinary header that passes through
const PASS = 0
const HOP = 1
const HOST = 2
const XFF = 3
const XF_SET = 4 // X-Forwarded-Proto / -Host: cutover sets them
const CONNECTION = 5
const UPGRADE = 7

/** Classify a request header name (length first, so most names cost one switch). */
function requestKind(name: string): number {
  switch (name.length) {
    case 2:
      return equalLower(name, 'te') ? HOP : PASS
    case 4:
      return equalLower(name, 'host') ? HOST : PASS
    case 6:
      // cutover answers 100-continue itself, when the node is ready for the body
      return equalLower(name, 'expect') ? HOP : PASS
    case 7:
      if (equalLower(name, 'upgrade')) return UPGRADE
      return equalLower(name, 'trailer') ? HOP : PASS
    case 10:
      if (equalLower(name, 'connection')) return CONNECTION
      return equalLower(name, 'keep-alive') ? HOP : PASS
    case 14:
      // an h2c upgrade's settings: between the client and cutover
      return equalLower(name, 'http2-settings') ? HOP : PASS
    case 15:
      return equalLower(name, 'x-forwarded-for') ? XFF : PASS
    case 16:
      if (equalLower(name, 'proxy-connection')) return HOP
      return equalLower(name, 'x-forwarded-host') ? XF_SET : PASS
    case 17:
      // the body's framing is written again by cutover
      if (equalLower(name, 'transfer-encoding')) return HOP
      return equalLower(name, 'x-forwarded-proto') ? XF_SET : PASS
    default:
      return PASS
  }
}

/** Header names listed in a Connection value, lower case, beyond the usual close/keep-alive/upgrade. */
export function connectionNames(value: string, into: string[] | undefined): string[] | undefined {
  let start = 0
  while (start <= value.length) {
    let end = value.indexOf(',', start)
    if (end < 0) end = value.length
    const token = value.slice(start, end).trim().toLowerCase()
    if (token !== '' && token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') {
      ;(into ??= []).push(token)
    }
    start = end + 1
  }
  return into
}

function isNamed(name: string, names: string[] | undefined): boolean {
  if (names === undefined) return false
  for (let i = 0; i < names.length; i++) {
    if (names[i].length === name.length && equalLower(name, names[i])) return true
  }
  return false
}

/** The offset where field k's line begins in its head's text (FieldLines). */
function lineStart(starts: FieldLines, k: number): number {
  const s = starts[k]
  return s < 0 ? ~s : s
}

/**
 * The lines a relay copies as they came, one run at a time: `pass(k)` for each field k
 * that passes unchanged; `flush(k)` before anything else is written; `finish(count)` at
 * the end, which hands the head over and holds on to nothing. A field line that is not
 * exactly `name: value` never joins a run: pass returns false and the caller writes it.
 */
class LineRuns {
  text = ''
  starts: FieldLines | undefined = undefined
  out = ''
  #from = -1

  reset(text: string | undefined, starts: FieldLines | undefined, out: string): void {
    this.text = text ?? ''
    this.starts = text === undefined ? undefined : starts
    this.out = out
    this.#from = -1
  }

  pass(k: number): boolean {
    const starts = this.starts
    if (starts === undefined || starts[k] < 0) {
      this.flush(k)
      return false
    }
    if (this.#from < 0) this.#from = starts[k]
    return true
  }

  flush(k: number): void {
    if (this.#from < 0) return
    this.out += this.text.slice(this.#from, lineStart(this.starts!, k))
    this.#from = -1
  }

  finish(count: number): string {
    this.flush(count)
    const out = this.out
    this.reset(undefined, undefined, '')
    return out
  }
}

// one per direction, reused: each build finishes before it returns
const requestRuns = new LineRuns()
const responseRuns = new LineRuns()

/** The names the Connection fields of headers (flat: name, value, ...) list as hop-by-hop, lower case, or undefined (the usual case). */
export function namedHops(headers: readonly string[]): string[] | undefined {
  let named: string[] | undefined
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 10 && equalLower(headers[i], 'connection')) named = connectionNames(headers[i + 1], named)
  }
  return named
}

/** The client's address as X-Forwarded-For shows it (IPv4-mapped IPv6 as plain IPv4). */
export function clientAddress(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? ''
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a
}

/**
 * The request head for the node: request line, the client's headers with hop-by-hop ones
 * dropped (Upgrade and Connection: Upgrade kept for an upgrade), Host kept (the node's
 * host:port when the client sent none), X-Forwarded-* set, the body's framing written
 * again, the blank line.
 */
export function upstreamRequestHead(head: RequestHead, client: string, https: boolean, upgrade: boolean, nodeHost: string): string {
  const runs = requestRuns
  runs.reset(head.text, head.lineStarts, head.method + ' ' + head.target + ' HTTP/1.1\r\n')
  const dropped = head.hopFields ?? -1
  const text = head.text
  const starts = head.lineStarts
  if (dropped < 0 || upgrade || text === undefined || starts === undefined) return requestHeadByNames(head, client, https, upgrade, nodeHost)
  // the codec marked the fields not relayed as sent: no header string is made but the values cutover writes again
  const count = starts.length - 1
  let xff: string | undefined
  const forwardedFor = head.forwardedFor ?? 0
  for (let k = 0; k < count; k++) {
    const bit = 1 << k
    if ((dropped & bit) === 0) {
      if (!runs.pass(k)) runs.out += fieldLine(head.headers, k)
      continue
    }
    runs.flush(k)
    if ((forwardedFor & bit) !== 0) {
      const value = fieldValue(text, starts, k)
      xff = xff === undefined ? value : xff + ', ' + value
    }
  }
  const host = head.hostIndex >= 0 ? fieldValue(text, starts, head.hostIndex >> 1) : undefined
  return requestHeadEnd(runs.finish(count), head, client, https, host, xff, undefined, nodeHost)
}

/** upstreamRequestHead reading the header names: for an upgrade, a Connection header naming fields, or a head not from the codec. */
function requestHeadByNames(head: RequestHead, client: string, https: boolean, upgrade: boolean, nodeHost: string): string {
  const raw = head.headers
  const named = namedHops(raw)
  const runs = requestRuns
  let host: string | undefined
  let xff: string | undefined
  let upgradeValue: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    const value = raw[i + 1]
    const k = i >> 1
    switch (requestKind(name)) {
      case PASS:
        if (named === undefined || !isNamed(name, named)) {
          if (!runs.pass(k)) runs.out += name + ': ' + value + '\r\n'
        } else {
          runs.flush(k)
        }
        break
      case HOST:
        host = value
        if (!runs.pass(k)) runs.out += name + ': ' + value + '\r\n'
        break
      case XFF:
        runs.flush(k)
        xff = xff === undefined ? value : xff + ', ' + value
        break
      case UPGRADE:
        // every protocol asked for, in one list (RFC 9110 5.3): the node picks among them all
        runs.flush(k)
        upgradeValue = upgradeValue === undefined ? value : upgradeValue + ', ' + value
        break
      default:
        // HOP, CONNECTION, XF_SET
        runs.flush(k)
        break
    }
  }
  return requestHeadEnd(runs.finish(raw.length >> 1), head, client, https, host, xff, upgrade ? upgradeValue : undefined, nodeHost)
}

/** The fields cutover writes after the client's, and the empty line. */
function requestHeadEnd(out: string, head: RequestHead, client: string, https: boolean, host: string | undefined, xff: string | undefined, upgradeValue: string | undefined, nodeHost: string): string {
  // an HTTP/1.0 request may come without Host; the node speaks HTTP/1.1, which needs one
  if (host === undefined) out += 'Host: ' + nodeHost + '\r\n'
  if (head.framing.kind === 'chunked') out += 'Transfer-Encoding: chunked\r\n'
  out += 'X-Forwarded-For: ' + (xff === undefined || xff === '' ? client : xff + ', ' + client) + '\r\n'
  out += https ? 'X-Forwarded-Proto: https\r\n' : 'X-Forwarded-Proto: http\r\n'
  if (host !== undefined) out += 'X-Forwarded-Host: ' + host + '\r\n'
  if (upgradeValue !== undefined) out += 'Connection: Upgrade\r\nUpgrade: ' + upgradeValue + '\r\n'
  return out + '\r\n'
}

/** Field k of headers as a line `name: value` CRLF. */
function fieldLine(headers: readonly string[], k: number): string {
  return headers[2 * k] + ': ' + headers[2 * k + 1] + '\r\n'
}

/** Is a response header name hop-by-hop? */
function responseHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return equalLower(name, 'te')
    case 7:
      return equalLower(name, 'upgrade') || equalLower(name, 'trailer')
    case 10:
      return equalLower(name, 'connection') || equalLower(name, 'keep-alive')
    case 16:
      return equalLower(name, 'proxy-connection')
    case 17:
      return equalLower(name, 'transfer-encoding')
    default:
      return false
  }
}

/** How the client's response head frames the body and the connection. */
export const enum ClientFraming {
  /** Content-Length or no body: the node's headers say it */
  AsIs = 0,
  /** chunked, relayed as the node sent it */
  Chunked = 1,
}

/**
 * The response head for the client: the node's status line and headers, hop-by-hop ones
 * dropped (repeats such as Set-Cookie stay repeated), the framing written again, and
 * `connection: close` when this answer ends the client's connection (`keep-alive` for an
 * HTTP/1.0 client that keeps it).
 */
export function clientResponseHead(res: ResponseHead, framing: ClientFraming, close: boolean, http10KeepAlive: boolean): string {
  const runs = responseRuns
  runs.reset(res.text, res.lineStarts, 'HTTP/1.1 ' + res.status + ' ' + res.reason + '\r\n')
  const hops = res.hopFields ?? -1
  let out: string
  if (hops >= 0 && res.lineStarts !== undefined) {
    // the codec marked the hop-by-hop fields: no header string is made
    const count = res.lineStarts.length - 1
    for (let k = 0; k < count; k++) {
      if ((hops & (1 << k)) !== 0) runs.flush(k)
      else if (!runs.pass(k)) runs.out += fieldLine(res.headers, k)
    }
    out = runs.finish(count)
  } else {
    out = responseFieldsByNames(res, runs, false)
  }
  if (framing === ClientFraming.Chunked) out += 'Transfer-Encoding: chunked\r\n'
  if (close) out += 'Connection: close\r\n'
  else if (http10KeepAlive) out += 'Connection: keep-alive\r\n'
  return out + '\r\n'
}

/**
 * The node's 101 for the client (RFC 9110 7.6.1, 15.2): as any answer's head, hop-by-hop
 * fields and those its Connection names dropped, but its Upgrade fields kept as sent (the
 * protocols switched to) and a Connection field that names `upgrade` alone kept as sent,
 * so that the client's WebSocket library takes the switch; Content-Length goes too, a 1xx
 * has no content. A 101 with no such Connection line gets `Connection: Upgrade` (the
 * sender of Upgrade must send it, RFC 9110 7.8), cutover's own, as the one it sends the node.
 */
export function switchHead(res: ResponseHead): string {
  const runs = responseRuns
  runs.reset(res.text, res.lineStarts, 'HTTP/1.1 101 ' + res.reason + '\r\n')
  return responseFieldsByNames(res, runs, true) + '\r\n'
}

/**
 * The node's fields that go on to the client, read by their names: hop-by-hop ones and those
 * its Connection names dropped; for a 101 (switching), as switchHead says.
 */
function responseFieldsByNames(res: ResponseHead, runs: LineRuns, switching: boolean): string {
  const raw = res.headers
  const named = namedHops(raw)
  const count = raw.length >> 1
  let connectionKept = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    const k = i >> 1
    let passes = !responseHop(name) && (named === undefined || !isNamed(name, named))
    if (switching) {
      if (name.length === 7 && equalLower(name, 'upgrade')) passes = true
      else if (name.length === 14 && equalLower(name, 'content-length')) passes = false
      else if (name.length === 10 && equalLower(name, 'connection') && namesUpgradeAlone(raw[i + 1])) passes = connectionKept = true
    }
    if (!passes) runs.flush(k)
    else if (!runs.pass(k)) runs.out += fieldLine(raw, k)
  }
  const out = runs.finish(count)
  return switching && !connectionKept ? out + 'Connection: Upgrade\r\n' : out
}

/** A Connection value lists `upgrade` and nothing else (any case, empty list elements aside). */
function namesUpgradeAlone(value: string): boolean {
  let seen = false
  for (const token of value.split(',')) {
    const t = token.trim()
    if (t === '') continue
    if (t.length !== 7 || !equalLower(t, 'upgrade')) return false
    seen = true
  }
  return seen
}

/**
 * The protocols an Upgrade field lists (headers flat: name, value, ...; every Upgrade field,
 * in order), each `name` or `name/version` (RFC 9110 7.8) as sent, trimmed.
 */
export function upgradeProtocols(headers: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length !== 7 || !equalLower(headers[i], 'upgrade')) continue
    for (const token of headers[i + 1].split(',')) {
      const t = token.trim()
      if (t !== '') out.push(t)
    }
  }
  return out
}

/**
 * The first of a 101's protocols (each `name[/version]`) that the request did not offer, or
 * undefined. Names compare in any case; a version on one side only (`websocket` and
 * `websocket/13`) is the same protocol, two versions must be the same (any case). Sets, not
 * a loop in a loop: both lists come from outside, each up to a head's size.
 */
export function notOffered(protocols: readonly string[], offers: readonly string[]): string | undefined {
  // lower-cased copies: a token may hold characters equalLower does not fold (`_`, `^`)
  const names = new Set<string>()
  const anyVersion = new Set<string>()
  const exact = new Set<string>()
  for (const offer of offers) {
    const lower = offer.toLowerCase()
    const slash = lower.indexOf('/')
    if (slash < 0) {
      names.add(lower)
      anyVersion.add(lower)
    } else {
      names.add(lower.slice(0, slash))
      exact.add(lower)
    }
  }
  for (const protocol of protocols) {
    const lower = protocol.toLowerCase()
    const slash = lower.indexOf('/')
    const ok = slash < 0 ? names.has(lower) : anyVersion.has(lower.slice(0, slash)) || exact.has(lower)
    if (!ok) return protocol
  }
  return undefined
}

/** the end of a chunked body without trailers (a body read until the node closed, relayed chunked) */
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1')

/** An interim (1xx) response for the client, headers as the node sent them minus hop-by-hop ones. */
export function interimHead(res: ResponseHead): string {
  return clientResponseHead(res, ClientFraming.AsIs, false, false)
}

/** A node's host[:port] as a Host header names it. */
export function authority(node: { config: { origin: string } }): string {
  const origin = node.config.origin
  return origin.slice(origin.indexOf('//') + 2)
}

/** the largest response head cutover reads from a node */
export const MAX_RESPONSE_HEAD = 64 * 1024

/**
 * The answer is a server-sent event stream (`Content-Type: text/event-stream`, any
 * parameters, any case): one that lasts until someone ends it.
 */
export function isEventStream(res: ResponseHead): boolean {
  const text = res.text
  const starts = res.lineStarts
  if (text !== undefined && starts !== undefined) {
    // names compared in the head's text (every chunked answer comes here): only Content-Type's value becomes a string
    for (let k = 0; k + 1 < starts.length; k++) if (fieldNameIs(text, starts, k, 'content-type')) return isEventStreamType(fieldValue(text, starts, k))
    return false
  }
  const n = res.headers.length >> 1
  for (let k = 0; k < n; k++) {
    const name = res.headers[2 * k]
    if (name.length === 12 && equalLower(name, 'content-type')) return isEventStreamType(res.headers[2 * k + 1])
  }
  return false
}

/** A Content-Type value names `text/event-stream` (any parameters, any case). */
export function isEventStreamType(value: unknown): boolean {
  if (typeof value !== 'string') return false
  const semi = value.indexOf(';')
  const type = (semi < 0 ? value : value.slice(0, semi)).trim()
  return type.length === 17 && equalLower(type, 'text/event-stream')
}
