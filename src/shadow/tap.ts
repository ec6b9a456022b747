/**
 * The contract between the engine and shadowing (issue 13): when x's response head
 * arrives the engine asks for a copy; a copy is fed x's body as it is relayed and told how
 * it ended. Nothing here may block or slow the client's answer.
 */

import type { RequestHead } from '../http1/index.js'

export interface ShadowTap {
  /**
   * A copy of this request for y, or null (not sampled, a method not copied, a request with
   * a body, or the budget spent). `headers` are x's response headers as received.
   */
  start(head: RequestHead, status: number, headers: readonly string[], client: string): ShadowCopy | null
}

export interface ShadowCopy {
  /** A piece of x's body as relayed to the client (the payload, without chunk framing). */
  body(chunk: Buffer): void
  /** x's answer is complete. */
  end(): void
  /** x's answer broke or the client went away: nothing to compare. */
  abort(): void
}
