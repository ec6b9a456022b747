/**
 * One attempt of a client's HTTP/2 stream on a node, as the stream exchange sees it: the
 * request body goes in, the response (1xx, head, data, trailers, end) or a failure comes
 * out. Two implementations: h2-attempt.ts (the node's h2 listener) and h1-attempt.ts
 * (its HTTP/1.1 url, for streams that are not gRPC).
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'
import { connectionNames } from '../forwarding/headers.js'
import type { FailureKind } from '../outcome/outcome-sink.js'

/** What an attempt reports; nothing after abort(), end() or failed(). */
export interface AttemptUser {
  /** an interim (1xx) answer, already cleaned for an h2 client */
  informational(headers: OutgoingHttpHeaders): void
  /** the final response head, cleaned; endStream: nothing follows (a trailers-only gRPC answer, a HEAD) */
  response(status: number, headers: OutgoingHttpHeaders, endStream: boolean): void
  data(chunk: Buffer): void
  trailers(headers: IncomingHttpHeaders): void
  /** the response is whole */
  end(): void
  /** the request body may flow again */
  drain(): void
  /** no usable answer (or a broken one, once the response had started) */
  failed(kind: FailureKind, err: Error | undefined): void
  /** still in line for a connection of a node that must take no more traffic: nothing went to it (the user may abort and go elsewhere) */
  moved(): void
}

export interface NodeAttempt {
  /** a connection or session to the node is up: a timeout now is the node's, not the connect's */
  readonly connected: boolean
  /** some of the request body went to the node */
  readonly bodySent: boolean
  /** a piece of the request body; false when the node's side is full (wait for drain) */
  write(chunk: Buffer): boolean
  /** the request body is whole; trailers: the client's request trailers (cleaned), if it sent any */
  end(trailers?: OutgoingHttpHeaders): void
  /** stop reading the response (the client is slow) / read again */
  pause(): void
  resume(): void
  /** give up: the client left, or a deadline passed; the user hears nothing more */
  abort(): void
  /**
   * The response is whole but the request body is not (the node answered early): what is
   * left of the request goes nowhere, and the node's side of it is closed (an HTTP/1.1
   * connection that carried half a body is never reused)
   */
  abandon(): void
}

/** Connection-specific headers (RFC 9113 8.2.2): never relayed between h2 and anything. */
export const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings', 'trailer'])

/** A node's response headers as an h2 client may get them: no pseudo or connection-specific ones, status first. */
export function responseHeaders(status: number, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status }
  // a 1xx, 204 or 205 has no content (RFC 9110 8.6, 15.3.6) and Node's respond() ends those
  // streams at their headers: a Content-Length saying otherwise makes nghttp2 clients (curl,
  // Node) reset the stream, though HTTP/1.1 clients ignore it
  const noLength = status < 200 || status === 204 || status === 205
  // the fields an HTTP/1.1 node's Connection header names are hop-by-hop, as on the HTTP/1.1 path
  const named = headers.connection === undefined ? undefined : connectionNames(String(headers.connection), undefined)
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a || CONNECTION_HEADERS.has(name) || named?.includes(name)) continue
    if (noLength && name === 'content-length') continue
    out[name] = headers[name]
  }
  return out
}

/** Trailers as relayed: no pseudo or connection-specific fields. */
export function cleanTrailers(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a || CONNECTION_HEADERS.has(name)) continue
    out[name] = headers[name]
  }
  return out
}
