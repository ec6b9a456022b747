/**
 * A body seen as it streams: its hash, its length, and (for a JSON body) its first bytes
 * up to the structural comparison's limit. Memory held is at most that limit.
 */

import type { Hash } from 'node:crypto'
import type { ShadowAnswer } from './compare.js'

const { createHash } = process.getBuiltinModule('node:crypto')

/** application/json, application/problem+json, ... */
export function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = contentType.split(';', 1)[0].trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/**
 * The body is compressed by one coding compare.ts can decode (gzip, deflate, br): one
 * Content-Encoding field naming one of them. Two equal payloads may be compressed to other
 * bytes (another level, another library), so the decoded bytes are compared.
 */
export function isDecodable(flat: readonly string[]): boolean {
  let coding: string | undefined
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i].length !== 16 || flat[i].toLowerCase() !== 'content-encoding') continue
    if (coding !== undefined) return false
    coding = flat[i + 1].trim().toLowerCase()
  }
  return coding === 'gzip' || coding === 'x-gzip' || coding === 'deflate' || coding === 'br'
}

/** The value of a header in a flat [name, value, ...] list, by lower-case name; the first one. */
export function headerOf(flat: readonly string[], lower: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i].length === lower.length && flat[i].toLowerCase() === lower) return flat[i + 1]
  return undefined
}

export class BodyDigest {
  readonly #hash: Hash = createHash('sha1')
  length = 0
  /** bytes kept so far (JSON, or another body compressed); null when neither or past the limit */
  #kept: Buffer[] | null
  readonly #limit: number
  readonly #json: boolean

  /** json: a JSON body; coded: a body of another type with a Content-Encoding compare.ts decodes */
  constructor(json: boolean, limit: number, coded = false) {
    this.#kept = (json || coded) && limit > 0 ? [] : null
    this.#limit = limit
    this.#json = json
  }

  update(chunk: Buffer): void {
    this.#hash.update(chunk)
    this.length += chunk.length
    const kept = this.#kept
    if (kept === null) return
    if (this.length > this.#limit) this.#kept = null
    // a copy: the chunk's memory is the socket's, reused after this call
    else kept.push(Buffer.from(chunk))
  }

  /** bytes are still kept (a JSON or compressed body within the limit so far) */
  get keeping(): boolean {
    return this.#kept !== null
  }

  /** The answer as compare.ts takes it. */
  answer(status: number, headers: readonly string[]): ShadowAnswer {
    const kept = this.#kept
    const bytes = kept === null ? undefined : Buffer.concat(kept)
    return { status, headers, bodyHash: this.#hash.digest('hex'), bodyLength: this.length, json: this.#json ? bytes : undefined, coded: this.#json ? undefined : bytes }
  }
}
