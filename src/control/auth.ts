/**
 * Bearer-token check for the /v1 API. Both sides are hashed with sha256 before a
 * constant-time compare, so neither the token's content nor its length leaks through timing.
 */

import type { Role } from '../state/actor.js'

const { createHash, timingSafeEqual } = process.getBuiltinModule('node:crypto')

export type AuthVerdict = 'ok' | 'missing' | 'malformed' | 'wrong'

const BEARER = /^Bearer +([!-~]+) *$/i

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** The role a request's token gives, or why it gives none. */
export type RoleVerdict = { verdict: 'ok'; role: Role } | { verdict: Exclude<AuthVerdict, 'ok'>; role: null }

/**
 * Two tokens, two roles (issue 14): the operator token may do everything, the viewer
 * token may only read. Both are compared on every request, so the time taken says
 * nothing about which one (if any) matched.
 */
export class RoleAuth {
  readonly #operator: BearerAuth
  readonly #viewer: BearerAuth

  constructor(operator: () => string, viewer: () => string | undefined) {
    this.#operator = new BearerAuth(operator)
    this.#viewer = new BearerAuth(() => viewer() ?? '')
  }

  check(header: string | string[] | undefined): RoleVerdict {
    const asOperator = this.#operator.check(header)
    const asViewer = this.#viewer.check(header)
    if (asOperator === 'ok') return { verdict: 'ok', role: 'operator' }
    if (asViewer === 'ok') return { verdict: 'ok', role: 'viewer' }
    return { verdict: asOperator, role: null }
  }
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
