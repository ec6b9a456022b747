/** The codec's contract: what a parsed head looks like. */

/** How a message's body is delimited. */
export type Framing =
  | { kind: 'none' } // no body (GET without CL/TE, HEAD answers, 1xx/204/304, CL: 0)
  | { kind: 'length'; length: number } // Content-Length
  | { kind: 'chunked' } // Transfer-Encoding: chunked (final coding)
  | { kind: 'close' } // responses only: read until the node closes

export interface RequestHead {
  method: string
  /** request-target exactly as sent */
  target: string
  versionMinor: 0 | 1
  /**
   * flat [name0, value0, name1, value1, ...] in arrival order, names as sent, values
   * OWS-trimmed; a parsed head makes these strings on first use (from text and lineStarts)
   */
  readonly headers: string[]
  /** never 'close' for requests */
  framing: Framing
  /** per version + Connection header */
  keepAlive: boolean
  /** Expect: 100-continue */
  expectContinue: boolean
  /**
   * Connection: upgrade + an Upgrade header, in an HTTP/1.1 request (an HTTP/1.0 one's
   * Upgrade is ignored, RFC 9110 7.8; llhttp reports it as an upgrade all the same)
   */
  upgrade: boolean
  /**
   * the upgrade asks for `h2c` alone (RFC 7540's cleartext HTTP/2 upgrade, sent on a
   * connection's first request by Java's HttpClient and `curl --http2`): a request like any
   * other to cutover, which answers it in HTTP/1.1; absent on a head not made by the codec
   */
  h2cUpgrade?: boolean
  /** index in headers of the (single) Host name, -1 when absent (HTTP/1.0) */
  hostIndex: number
  /** the head as one latin1 string; with lineStarts, absent when parsed from a partial read */
  text?: string
  /** see FieldLines */
  lineStarts?: FieldLines
  /**
   * Bit k set when field k is not relayed to a node as sent, by its name: ResponseHead's
   * hop-by-hop names, Expect, and the X-Forwarded-For, -Host and -Proto that cutover
   * writes itself; -1 when the names must be read instead (as ResponseHead's hopFields).
   * Absent on a head not made by the codec.
   */
  hopFields?: number
  /** bit k set when field k is an X-Forwarded-For (valid where hopFields is not -1) */
  forwardedFor?: number
}

/**
 * Where each field line of a head begins in its `text`: for field k (headers[2k],
 * headers[2k + 1]) its offset when the line reads exactly `name: value` CRLF, else ~offset
 * (negative); one more entry, the offset of the empty line that ends the head. A relay
 * copies a run of such lines in one slice where they pass unchanged (forwarding/headers.ts).
 */
export type FieldLines = number[]

export interface ResponseHead {
  status: number
  reason: string
  versionMinor: 0 | 1
  /**
   * as RequestHead's; a parsed head makes these strings on first use (from text and
   * lineStarts), since a relay copies the lines and never asks
   */
  readonly headers: string[]
  /** decided with the request method (HEAD => none) and status (1xx/204/304 => none) */
  framing: Framing
  keepAlive: boolean
  /** as RequestHead's */
  text?: string
  /** as RequestHead's */
  lineStarts?: FieldLines
  /**
   * Bit k set when field k is hop-by-hop by its name (Connection, Keep-Alive,
   * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade); -1 when the names must be
   * read instead: more than 30 fields, or a Connection header naming other fields.
   * Absent on a head not made by the codec.
   */
  hopFields?: number
  /**
   * The node's Keep-Alive `timeout=` in seconds: how long it keeps an idle connection open
   * (-1: it did not say). Absent on a head not made by the codec.
   */
  keepAliveTimeout?: number
}

export type ParseResult<H> =
  | { kind: 'head'; head: H; length: number } // length = bytes of the head incl. the final empty line
  | { kind: 'partial' } // need more bytes (still under the size limit)
  | { kind: 'refused'; status: number; reason: string } // 400 / 431 / 501 / 505; reason names what is wrong

export const NO_BODY: Framing = Object.freeze({ kind: 'none' })
export const CHUNKED: Framing = Object.freeze({ kind: 'chunked' })
export const UNTIL_CLOSE: Framing = Object.freeze({ kind: 'close' })
export const PARTIAL: { kind: 'partial' } = Object.freeze({ kind: 'partial' })
