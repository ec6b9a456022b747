/**
 * Request framing checks on top of llhttp (which already refuses Content-Length with
 * Transfer-Encoding, repeated Content-Lengths, malformed chunks, obs-fold and bare CR/LF):
 * what it lets through but a node behind cutover might read differently. Pure: a head in,
 * a reason out.
 */

/** The reasons, as static strings: the check runs per request and allocates nothing. */
export const FRAMING = {
  duplicateHost: 'duplicate Host header',
  missingHost: 'HTTP/1.1 request without Host',
  transferEncodingHttp10: 'Transfer-Encoding in an HTTP/1.0 request',
  transferEncodingNotChunked: 'Transfer-Encoding other than a single chunked',
  duplicateTransferEncoding: 'repeated Transfer-Encoding header',
  duplicateContentLength: 'repeated Content-Length header',
  lengthAndChunked: 'Content-Length with Transfer-Encoding',
} as const

export type FramingProblem = (typeof FRAMING)[keyof typeof FRAMING]

/** a equals the lower-case constant b, ignoring ASCII case (same length assumed). */
function eq(a: string, b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    if ((a.charCodeAt(i) | 0x20) !== b.charCodeAt(i)) return false
  }
  return true
}

/** value, without the whitespace around it, is `chunked` in any case. */
function isChunked(value: string): boolean {
  let start = 0
  let end = value.length
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--
  if (end - start !== 7) return false
  const chunked = 'chunked'
  for (let i = 0; i < 7; i++) {
    if ((value.charCodeAt(start + i) | 0x20) !== chunked.charCodeAt(i)) return false
  }
  return true
}

/**
 * Why a request head's framing is ambiguous, or null when it is clean. A second Host is
 * refused even with the same value (Node would keep one, a node might keep the other);
 * Transfer-Encoding must be exactly one `chunked` (cutover re-frames the body, so any
 * other coding would reach the node undeclared); HTTP/1.0 may not use it at all
 * (RFC 9112 6.1); Content-Length may appear once (equal repeats are refused too, not
 * collapsed: llhttp refuses them already and nothing legitimate sends them).
 */
export function framingProblem(httpVersion: string, rawHeaders: readonly string[]): FramingProblem | null {
  let hosts = 0
  let encodings = 0
  let lengths = 0
  let chunked = false
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    switch (name.length) {
      case 4:
        if (eq(name, 'host')) hosts++
        break
      case 14:
        if (eq(name, 'content-length')) lengths++
        break
      case 17:
        if (eq(name, 'transfer-encoding')) {
          encodings++
          chunked = isChunked(rawHeaders[i + 1])
        }
        break
      default:
        break
    }
  }
  if (hosts > 1) return FRAMING.duplicateHost
  if (hosts === 0 && httpVersion === '1.1') return FRAMING.missingHost
  if (lengths > 1) return FRAMING.duplicateContentLength
  if (encodings === 0) return null
  if (httpVersion !== '1.1') return FRAMING.transferEncodingHttp10
  if (encodings > 1) return FRAMING.duplicateTransferEncoding
  if (!chunked) return FRAMING.transferEncodingNotChunked
  return lengths > 0 ? FRAMING.lengthAndChunked : null
}
