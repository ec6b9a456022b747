/**
 * cutover's codec (src/http1) driven over a byte stream the way the engine drives it, its
 * results mapped into the normalized form of stream.ts. If the codec's shapes change, only
 * this file changes.
 *
 * Heads: parseRequestHead / parseResponseHead on the bytes from the message's start; a
 * 'partial' answer means "wait for more". Bodies: Content-Length takes that many bytes,
 * chunked goes through a ChunkedDecoder, 'close' (responses) takes the rest. After a
 * message without keep-alive the connection ends; after an upgrade (or a 101) the rest is
 * a tunnel.
 *
 * `splits` replays the same bytes as they might arrive from a socket: the head parser is
 * asked again on each longer prefix until it answers, the decoder is fed piece by piece.
 * The verdict must not depend on the splits.
 */
import { ChunkedDecoder, parseRequestHead, parseResponseHead } from '../../../src/http1/index.js'
import type { Framing, ParseResult, RequestHead, ResponseHead } from '../../../src/http1/index.js'
import type { Message, Stream } from './stream.js'

type Mode = 'request' | 'response'
type AnyHead = RequestHead | ResponseHead

/** Split points must be strictly increasing offsets inside the bytes; others are ignored. */
export function cutover(mode: Mode, bytes: Buffer, maxHeadSize: number, requestMethods: readonly string[] = ['GET'], splits: readonly number[] = []): Stream {
  const messages: Message[] = []
  const cuts = [...splits.filter((s) => s > 0 && s < bytes.length), bytes.length]
  let offset = 0
  for (let n = 0; ; n++) {
    if (offset >= bytes.length) return { messages, end: open(false) }
    const requestMethod = requestMethods[Math.min(n, requestMethods.length - 1)]
    const parsed = parseHead(mode, bytes, offset, maxHeadSize, requestMethod, cuts)
    if (parsed.kind === 'partial') return { messages, end: open(false) }
    if (parsed.kind === 'refused') return { messages, end: { kind: 'refused', reason: parsed.reason, status: parsed.status, inBody: false } }
    const m = toMessage(mode, parsed.head)
    messages.push(m)
    const bodyStart = offset + parsed.length
    const framing: Framing = parsed.head.framing
    if (mode === 'request' && framing.kind === 'close') {
      return { messages, end: { kind: 'refused', reason: 'codec framed a request as read-until-close (contract: never)', status: 0, inBody: true } }
    }
    const body = readBody(framing, bytes, bodyStart, maxHeadSize, cuts, m)
    if (body.error !== null) return { messages, end: { kind: 'refused', reason: body.error, status: 400, inBody: true } }
    if (!m.complete) return { messages, end: open(true) }
    offset = m.end
    if (m.upgrade || (mode === 'response' && m.status === 101)) return { messages, end: { kind: 'upgrade', reason: '', status: 0, inBody: false } }
    if (!m.keepAlive) return { messages, end: { kind: 'closed', reason: '', status: 0, inBody: false } }
  }
}

function open(inBody: boolean) {
  return { kind: 'open' as const, reason: '', status: 0, inBody }
}

/** Ask for the head at `offset` on each longer prefix, as bytes would arrive. */
function parseHead(mode: Mode, bytes: Buffer, offset: number, maxHeadSize: number, requestMethod: string, cuts: readonly number[]): ParseResult<AnyHead> {
  let result: ParseResult<AnyHead> = { kind: 'partial' }
  for (const cut of cuts) {
    if (cut <= offset) continue
    const view = bytes.subarray(offset, cut)
    result = mode === 'request' ? parseRequestHead(view, maxHeadSize) : parseResponseHead(view, maxHeadSize, requestMethod)
    if (result.kind !== 'partial') return result
  }
  return result
}

function toMessage(mode: Mode, head: AnyHead): Message {
  const request = mode === 'request' ? (head as RequestHead) : null
  const response = mode === 'response' ? (head as ResponseHead) : null
  return {
    method: request?.method ?? '',
    target: request?.target ?? '',
    status: response?.status ?? 0,
    reason: response?.reason ?? '',
    version: `1.${head.versionMinor}`,
    headers: [...head.headers],
    // llhttp calls a response read until close not keep-alive; the codec says so by its framing
    keepAlive: head.keepAlive && head.framing.kind !== 'close',
    // llhttp's upgrade flag covers CONNECT too; a codec that lets CONNECT through must say so
    upgrade: request ? request.upgrade || request.method === 'CONNECT' : response!.status === 101,
    body: [],
    bodyBytes: 0,
    trailers: [],
    complete: false,
    end: -1,
  }
}

/** Read the body of m starting at `start`; fills m.body, m.complete, m.end, m.trailers. */
function readBody(framing: Framing, bytes: Buffer, start: number, maxHeadSize: number, cuts: readonly number[], m: Message): { error: string | null } {
  switch (framing.kind) {
    case 'none':
      m.complete = true
      m.end = start
      return { error: null }
    case 'length': {
      const available = Math.min(framing.length, bytes.length - start)
      if (available > 0) m.body.push(Buffer.from(bytes.subarray(start, start + available)))
      m.bodyBytes = available
      if (available === framing.length) {
        m.complete = true
        m.end = start + framing.length
      }
      return { error: null }
    }
    case 'close':
      if (bytes.length > start) m.body.push(Buffer.from(bytes.subarray(start)))
      m.bodyBytes = bytes.length - start
      m.complete = true
      m.end = bytes.length
      return { error: null }
    case 'chunked': {
      const decoder = new ChunkedDecoder({ maxTrailerSize: maxHeadSize })
      let at = start
      let carry: Buffer | null = null
      for (const cut of cuts) {
        if (cut <= at) continue
        const piece: Buffer = carry ? Buffer.concat([carry, bytes.subarray(at, cut)]) : bytes.subarray(at, cut)
        const pieceStart = carry ? at - carry.length : at
        carry = null
        const r = decoder.push(piece)
        for (const d of r.data) {
          m.body.push(Buffer.from(d))
          m.bodyBytes += d.length
        }
        if (r.error !== null) return { error: r.error }
        if (r.done) {
          m.complete = true
          m.end = pieceStart + r.consumed
          m.trailers = [...decoder.trailers]
          return { error: null }
        }
        // a decoder that keeps back bytes it cannot use yet gets them again with the next piece
        if (r.consumed < piece.length) carry = piece.subarray(r.consumed)
        at = cut
      }
      return { error: null }
    }
  }
}
