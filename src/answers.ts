/**
 * Every answer cutover makes itself rather than relays from a node, built from the error
 * registry (src/errors.ts): the status comes from the code, never written by hand.
 *
 * Two shapes, as SPEC says: on the proxy port a Kong-like `{"message": "..."}` (clients of
 * the gateway see what Kong would send); on the control API `{"error": "...", "code":
 * "CUTOVER_ERR_..."}`. Proxy answers are meant to be built once, at module load, and
 * written from the prebuilt bytes on the hot path.
 */

import type { FastifyReply } from 'fastify'
import type { FailureKind } from './outcome/outcome-sink.js'
import { ERRORS, type CutoverError, type ErrorCode } from './errors.js'

const { STATUS_CODES } = process.getBuiltinModule('node:http')

/** One of cutover's own answers on the proxy port. */
export interface ProxyAnswer {
  readonly code: ErrorCode
  readonly status: number
  /** the JSON body, `{"message": ...}` */
  readonly body: Buffer
}

/** An answer on the proxy port: the registry's status, a Kong-like JSON body. */
export function proxyAnswer(code: ErrorCode, message: string): ProxyAnswer {
  return { code, status: ERRORS[code], body: Buffer.from(JSON.stringify({ message })) }
}

/** The proxy answers with fixed messages (README "limits and failure behaviour" quotes them). */
export const ANSWERS = {
  noNode: proxyAnswer('CUTOVER_ERR_NO_NODE', 'no upstream node is usable'),
  upstream: proxyAnswer('CUTOVER_ERR_UPSTREAM', 'upstream failed'),
  upstreamTimeout: proxyAnswer('CUTOVER_ERR_UPSTREAM_TIMEOUT', 'upstream timed out'),
  bodyTooLarge: proxyAnswer('CUTOVER_ERR_BODY_TOO_LARGE', 'request body too large'),
  overloaded: proxyAnswer('CUTOVER_ERR_OVERLOADED', 'cutover is overloaded'),
  headTooLarge: proxyAnswer('CUTOVER_ERR_HEAD_TOO_LARGE', 'request head too large'),
  headTimeout: proxyAnswer('CUTOVER_ERR_HEAD_TIMEOUT', 'request head not received in time'),
  bodyTimeout: proxyAnswer('CUTOVER_ERR_BODY_TIMEOUT', 'request body stopped arriving'),
  malformed: proxyAnswer('CUTOVER_ERR_BAD_REQUEST', 'bad request: malformed HTTP'),
} as const satisfies Record<string, ProxyAnswer>

/** What the client gets when the last attempt failed with kind: 504 for a timeout, else 502. */
export function failureAnswer(kind: FailureKind): ProxyAnswer {
  return kind === 'timeout' ? ANSWERS.upstreamTimeout : ANSWERS.upstream
}

export interface AnswerOptions {
  /** add `connection: close` (the request body was not read, or the connection is refused) */
  close?: boolean
  /** further headers, e.g. `{ 'retry-after': '1' }`; names in lower case */
  headers?: Readonly<Record<string, string>>
}

/** The answer's headers as the flat [name, value, ...] list node:http's writeHead takes. */
export function answerHeaders(answer: ProxyAnswer, options: AnswerOptions = {}): string[] {
  const list = ['content-type', 'application/json', 'content-length', String(answer.body.length)]
  if (options.headers) for (const [name, value] of Object.entries(options.headers)) list.push(name, value)
  if (options.close) list.push('connection', 'close')
  return list
}

/** The whole HTTP/1.1 response, status line to body, as bytes to write on a raw socket. */
export function rawAnswer(answer: ProxyAnswer, options: AnswerOptions = {}): Buffer {
  const list = answerHeaders(answer, options)
  let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}\r\n`
  for (let i = 0; i < list.length; i += 2) head += `${list[i]}: ${list[i + 1]}\r\n`
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), answer.body])
}

const API_JSON_TYPE = 'application/json; charset=utf-8'

/** The control API's error body. */
export function apiErrorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: message, code })
}

/**
 * Answer a control API request with an error: `{"error", "code"}`, the registry's status
 * unless status is given (fastify's own 4xx, mapped onto the nearest code).
 */
export function sendApiError(reply: FastifyReply, code: ErrorCode, message: string, status: number = ERRORS[code]): FastifyReply {
  return reply.code(status).type(API_JSON_TYPE).send(apiErrorBody(code, message))
}

/** Answer a control API request with a CutoverError. */
export function sendCutoverError(reply: FastifyReply, err: CutoverError): FastifyReply {
  return sendApiError(reply, err.code, err.message, err.status)
}
