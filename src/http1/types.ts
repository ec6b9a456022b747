/** The codec's contract (see /work/notes/http1-contract.md): what a parsed head looks like. */

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
  /** flat [name0, value0, name1, value1, ...] in arrival order, names as sent, values OWS-trimmed */
  headers: string[]
  /** never 'close' for requests */
  framing: Framing
  /** per version + Connection header */
  keepAlive: boolean
  /** Expect: 100-continue */
  expectContinue: boolean
  /** Connection: upgrade + an Upgrade header */
  upgrade: boolean
  /** index in headers of the (single) Host name, -1 when absent (HTTP/1.0) */
  hostIndex: number
}

export interface ResponseHead {
  status: number
  reason: string
  versionMinor: 0 | 1
  headers: string[]
  /** decided with the request method (HEAD => none) and status (1xx/204/304 => none) */
  framing: Framing
  keepAlive: boolean
}

export type ParseResult<H> =
  | { kind: 'head'; head: H; length: number } // length = bytes of the head incl. the final empty line
  | { kind: 'partial' } // need more bytes (still under the size limit)
  | { kind: 'refused'; status: number; reason: string } // 400 / 431 / 501 / 505; reason names what is wrong

export const NO_BODY: Framing = Object.freeze({ kind: 'none' })
export const CHUNKED: Framing = Object.freeze({ kind: 'chunked' })
export const UNTIL_CLOSE: Framing = Object.freeze({ kind: 'close' })
export const PARTIAL: { kind: 'partial' } = Object.freeze({ kind: 'partial' })
