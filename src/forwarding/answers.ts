/**
 * The bytes of cutover's own answers on the proxy port, from the one answer module
 * (src/answers.ts, statuses from the error registry): built once and reused, since they
 * are written on the hot path of a failing or refused request.
 */

import { ANSWERS, failureAnswer, proxyAnswer, type ProxyAnswer, rawAnswer } from '../answers.js'
import type { FailureKind } from '../outcome/outcome-sink.js'

/** An answer that may keep the connection, or end it. */
export interface KeptOrClosing {
  /** to an HTTP/1.1 client, whose connection persists unless told otherwise */
  keep: Buffer
  /** to an HTTP/1.0 client that asked for keep-alive: without `connection: keep-alive` it takes the answer as the connection's last */
  keep10: Buffer
  close: Buffer
}

function both(answer: ProxyAnswer): KeptOrClosing {
  return { keep: rawAnswer(answer), keep10: rawAnswer(answer, { headers: { connection: 'keep-alive' } }), close: rawAnswer(answer, { close: true }) }
}

/** The answer that keeps the connection, as a client of HTTP/1.versionMinor must be told. */
export function kept(answer: KeptOrClosing, versionMinor: number): Buffer {
  return versionMinor === 0 ? answer.keep10 : answer.keep
}

export const RAW = {
  noNode: both(ANSWERS.noNode),
  upstream: both(ANSWERS.upstream),
  upstreamTimeout: both(ANSWERS.upstreamTimeout),
  bodyTooLarge: rawAnswer(ANSWERS.bodyTooLarge, { close: true }),
  shed: rawAnswer(ANSWERS.overloaded, { close: true, headers: { 'retry-after': '1' } }),
  headTooLarge: rawAnswer(ANSWERS.headTooLarge, { close: true }),
  headTimeout: rawAnswer(ANSWERS.headTimeout, { close: true }),
  bodyTimeout: rawAnswer(ANSWERS.bodyTimeout, { close: true }),
} as const

/** The answer when the last attempt failed with kind (502, or 504 for a timeout), to a client of HTTP/1.versionMinor. */
export function failureBytes(kind: FailureKind, close: boolean, versionMinor = 1): Buffer {
  const answer = kind === 'timeout' ? RAW.upstreamTimeout : RAW.upstream
  return close ? answer.close : kept(answer, versionMinor)
}

const refusals = new Map<string, Buffer>()

/** `400 {"message": "bad request: <reason>"}` and close, one per reason (the codec's reasons are a fixed set). */
export function badRequestBytes(reason: string): Buffer {
  let bytes = refusals.get(reason)
  if (bytes === undefined) {
    bytes = rawAnswer(proxyAnswer('CUTOVER_ERR_BAD_REQUEST', `bad request: ${reason}`), { close: true })
    refusals.set(reason, bytes)
  }
  return bytes
}

export { failureAnswer }

/** why a connection that opens with a PROXY protocol header is refused while proxy.proxy_protocol is off */
export const UNEXPECTED_PROXY_HEADER = 'a PROXY protocol header, and proxy.proxy_protocol is off (the load balancer in front sends them: turn it on)'

const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1')

/**
 * One of these answers as sent to a request of method: to HEAD without its body (RFC 9110
 * 9.3.2), which the client would otherwise read as the start of its next answer.
 */
export function forMethod(bytes: Buffer, method: string): Buffer {
  if (method !== 'HEAD') return bytes
  return bytes.subarray(0, bytes.indexOf(END_OF_HEAD) + END_OF_HEAD.length)
}

export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')
