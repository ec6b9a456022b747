/** What went wrong with an upstream attempt, and whether it may be tried again (SPEC 4.4). */

import { isCutoverError } from '../errors.js'
import type { FailureKind } from '../outcome/outcome-sink.js'

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
])

/**
 * Classify an attempt's error. connected: undici had handed the request to a connected
 * socket (onConnect ran), so the upstream may have seen it.
 */
export function classifyFailure(err: unknown, connected: boolean): FailureKind {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout'
  // undici's parser errors carry no code when llhttp gave none (a status line that is not HTTP)
  if ((err as Error | null)?.name === 'HTTPParserError') return 'protocol'
  if (typeof code === 'string') {
    if (CONNECT_CODES.has(code)) return 'connect'
    // llhttp parse errors, a length that lies, an unparsable head turned into our error
    if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return 'protocol'
    if (isCutoverError(err, 'CUTOVER_ERR_UPSTREAM')) return 'protocol'
    if (code === 'UND_ERR_SOCKET' && /^bad /.test((err as Error).message)) return 'protocol'
  }
  // before the request reached a socket nothing was sent: a failure to connect (TLS included)
  return connected ? 'reset' : 'connect'
}

/** Methods that may be sent twice (RFC 9110 idempotent, minus TRACE). */
export function isIdempotent(method: string | undefined): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
      return true
    default:
      return false
  }
}

/**
 * May an attempt that failed with kind be tried on another node? Connect failures always;
 * resets only for idempotent methods whose body was not read yet; never anything else.
 */
export function isRetryable(kind: FailureKind, idempotent: boolean, bodyRead: boolean): boolean {
  if (kind === 'connect') return true
  return kind === 'reset' && idempotent && !bodyRead
}

/** The status cutover answers with when the last attempt failed with kind. */
export function failureStatus(kind: FailureKind): number {
  return kind === 'timeout' ? 504 : 502
}
