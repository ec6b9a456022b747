/**
 * Bearer-token check for the /v1 API. Both sides are hashed with sha256 before a
 * constant-time compare, so neither the token's content nor its length leaks through timing.
 */

import { createHash, timingSafeEqual } from 'node:crypto'

export type AuthVerdict = 'ok' | 'missing' | 'malformed' | 'wrong'

const BEARER = /^Bearer +([!-~]+) *$/i

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** Checks Authorization headers against a token that may change (a reload). */
export class BearerAuth {
  readonly #token: () => string
  #cachedToken: string | null = null
  #cachedHash: Buffer = Buffer.alloc(32)

  constructor(token: () => string) {
    this.#token = token
  }

  /** The verdict for one Authorization header value. */
  check(header: string | string[] | undefined): AuthVerdict {
    if (header === undefined || header === '') return 'missing'
    if (typeof header !== 'string') return 'malformed'
    const m = BEARER.exec(header)
    if (!m) return 'malformed'
    const token = this.#token()
    // an empty configured token must never match anything
    if (token.length === 0) return 'wrong'
    if (token !== this.#cachedToken) {
      this.#cachedHash = sha256(token)
      this.#cachedToken = token
    }
    return timingSafeEqual(sha256(m[1]), this.#cachedHash) ? 'ok' : 'wrong'
  }
}
