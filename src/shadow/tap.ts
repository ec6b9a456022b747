/**
 * The contract between the engine and shadowing (issue 13): at a request's head, bound for
 * x, the engine asks for a copy; a copy is fed the request body as it goes to x, told x's
 * answer head, fed x's body as it is relayed and told how it ended. Nothing here may block
 * or slow the client's request or answer.
 */

import type { IncomingHttpHeaders } from 'node:http2'
import type { RequestHead } from '../http1/index.js'

export interface ShadowTap {
  /**
   * A copy of this HTTP/1 request for y, or null: not sampled, a method not copied, an
   * upgrade, a body over shadow.max_body_bytes, or the budget spent.
   */
  pick(head: RequestHead): ShadowCopy | null
  /** The same for an HTTP/2 stream (gRPC calls are never copied); ended: no request body follows. */
  pickStream(headers: IncomingHttpHeaders, ended: boolean): ShadowCopy | null
}

export interface ShadowCopy {
  /** A piece of the request body as sent to x (the payload, without chunk framing). */
  requestBody(chunk: Buffer): void
  /** The request body went to x whole. */
  requestEnd(): void
  /** x's answer head: status, and headers as received (flat [name, value, ...]); client: its address. */
  respond(status: number, headers: readonly string[], client: string): void
  /** A piece of x's body as relayed to the client (the payload, without chunk framing). */
  body(chunk: Buffer): void
  /** x's answer is complete. */
  end(): void
  /**
   * x gave no answer: cutover answers the client with its own 502, 503 or 504 (x's nodes
   * failed, or were too slow, or none was usable). Called before abort(); counted as dropped.
   */
  xFailed(): void
  /** x's answer broke, x was never answered, or the client went away: nothing to compare. */
  abort(): void
}
