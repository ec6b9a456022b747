/**
 * The answers cutover writes itself on the proxy port, as the bytes for a raw socket:
 * JSON `{"message": ...}` (SPEC 4.6), built once per (status, message, close) and reused.
 */

import { STATUS_CODES } from 'node:http'

const cache = new Map<string, Buffer>()

/** The whole answer: status line, JSON headers, `connection: close` when close, the body. */
export function answer(status: number, message: string, close: boolean, retryAfter = false): Buffer {
  const key = `${status}${close ? 'c' : 'k'}${retryAfter ? 'r' : ''}${message}`
  let bytes = cache.get(key)
  if (bytes === undefined) {
    const body = JSON.stringify({ message })
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
    if (retryAfter) head += 'retry-after: 1\r\n'
    if (close) head += 'connection: close\r\n'
    bytes = Buffer.from(`${head}\r\n${body}`, 'utf8')
    cache.set(key, bytes)
  }
  return bytes
}

/** The message of cutover's own answer for status (SPEC 4.6 and the limits). */
export const MESSAGES = {
  413: 'request body too large',
  502: 'upstream failed',
  503: 'no upstream node is usable',
  504: 'upstream timed out',
  408: 'request head not received in time',
  431: 'request head too large',
  shed: 'cutover is overloaded',
} as const

/** The message for an upstream failure's status. */
export function failureMessage(status: number): string {
  return status === 504 ? MESSAGES[504] : MESSAGES[502]
}

export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')
