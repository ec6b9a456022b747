/** A small client for the control API, used by `cutover ctl`. */

import { CutoverError } from '../errors.js'

/** The control API could not be reached (apiStatus null) or answered with an error status. */
export class CtlError extends CutoverError {
  readonly apiStatus: number | null
  constructor(message: string, apiStatus: number | null) {
    super('CUTOVER_ERR_CONTROL_API', message)
    this.name = 'CtlError'
    this.apiStatus = apiStatus
  }
}

export interface CtlClientOptions {
  url: string
  token?: string
  fetch?: typeof fetch
  timeoutMs?: number
}

export class CtlClient {
  readonly #url: string
  readonly #token: string | undefined
  readonly #fetch: typeof fetch
  readonly #timeoutMs: number

  constructor(options: CtlClientOptions) {
    this.#url = options.url.replace(/\/+$/, '')
    this.#token = options.token
    this.#fetch = options.fetch ?? fetch
    this.#timeoutMs = options.timeoutMs ?? 10_000
  }

  /** Call the API; resolves with the parsed JSON body, rejects with CtlError on any failure. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await this.#fetch(`${this.#url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      const why = cause?.code ?? cause?.message ?? (err as Error).message
      throw new CtlError(`cannot reach the control API at ${this.#url}: ${why}`, null)
    }
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      // not JSON: keep the text for the message
    }
    if (!res.ok) {
      const message = typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String((parsed as { error: unknown }).error) : text || res.statusText
      const hint = res.status === 401 ? `; ${this.#token ? 'check CUTOVER_TOKEN (or --token): it is not the control token' : 'set CUTOVER_TOKEN to the control token, or pass --token'}` : ''
      throw new CtlError(`${method} ${path}: ${res.status} ${message}${hint}`, res.status)
    }
    return parsed
  }
}
