/**
 * The copy of an HTTP/2 stream (issue 13), the small hook src/h2/stream-exchange.ts calls:
 * picked when the stream is routed to x, fed the request body from the client's stream
 * itself, and x's answer in the shape h2 gives it (a header object with `:status`).
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import type { PoolName } from '../config/types.js'
import type { ShadowCopy, ShadowTap } from './tap.js'

export class StreamCopy {
  readonly #copy: ShadowCopy

  private constructor(copy: ShadowCopy) {
    this.#copy = copy
  }

  /** A copy of the stream when it goes to x and is sampled; null otherwise. */
  static pick(tap: ShadowTap | null, pool: PoolName, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ended: boolean): StreamCopy | null {
    if (tap === null || pool !== 'x') return null
    const copy = tap.pickStream(headers, ended)
    if (copy === null) return null
    if (!ended) {
      stream.on('data', (chunk: Buffer) => copy.requestBody(chunk))
      stream.once('end', () => copy.requestEnd())
    }
    return new StreamCopy(copy)
  }

  /** x's answer head; an answer from y (a fallback) has nothing to compare. */
  respond(pool: PoolName, status: number, headers: OutgoingHttpHeaders, client: string | undefined): void {
    if (pool !== 'x') {
      this.#copy.abort()
      return
    }
    const flat: string[] = []
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue
      if (Array.isArray(value)) for (const v of value) flat.push(name, v)
      else flat.push(name, String(value))
    }
    this.#copy.respond(status, flat, client ?? '')
  }

  body(chunk: Buffer): void {
    this.#copy.body(chunk)
  }

  end(): void {
    this.#copy.end()
  }

  /** cutover answers the stream with its own 502/503/504: x gave no answer to copy. */
  xFailed(): void {
    this.#copy.xFailed()
  }

  /** The stream is over: a copy whose x answer was not whole has nothing to compare. */
  abort(): void {
    this.#copy.abort()
  }
}
