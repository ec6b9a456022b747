// The seeded script of one fuzzed HTTP/2 connection (no tests here): its streams, the answer
// each stream's node gives (the node's plan) and how the client behaves. Drawn from (seed,
// connection) alone, so a connection's script is the same on every run; only timing differs.
import { bodyFor, connectionRandom } from '../../forwarding/connection-fuzz/script.js'

export { bodyFor, connectionRandom } from '../../forwarding/connection-fuzz/script.js'

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT'

/**
 * What the node does on its first attempt at a request; a retry is always answered whole.
 * cut: the node's connection ends (an h2 node's socket is destroyed, its other streams with
 * it); reset: RST_STREAM with resetCode (an HTTP/1.1 node: a TCP reset); tcp-reset: the h2
 * node's socket is reset; stall: nothing more; goaway-below: GOAWAY whose last stream id is
 * below the stream's (unprocessed), goaway-above: GOAWAY naming the stream, then the whole
 * answer; refused: REFUSED_STREAM before anything. An HTTP/1.1 node has no GOAWAY nor
 * REFUSED_STREAM: it resets its connection before the head for those.
 */
export type NodeFault = 'none' | 'cut' | 'reset' | 'tcp-reset' | 'stall' | 'goaway-below' | 'goaway-above' | 'refused'

export interface NodePlan {
  status: 200 | 204 | 404
  bodyLength: number
  /** a 103 before the head */
  interim: boolean
  /** x-trailer: <id> after the body (an HTTP/1.1 node: chunked) */
  trailers: boolean
  /** the answer says its content-length (an HTTP/1.1 node: else chunked) */
  contentLength: boolean
  fault: NodeFault
  /** body bytes written before the fault; -1: before the head */
  faultAt: number
  /** RST_STREAM's code for reset (and GOAWAY's for goaway-below) */
  resetCode: number
  /** the body goes in this many writes */
  pieces: number
}

/** reset-upload: RST_STREAM after resetAt bytes of the body, before its end; reset-download: after resetAt bytes of the answer */
export type StreamFault = 'none' | 'reset-upload' | 'reset-download'

export interface ScriptedStream {
  id: number
  method: Method
  /** the request body (empty for GET and HEAD) */
  body: Buffer
  hasBody: boolean
  /** the request says its content-length */
  contentLength: boolean
  /** x-req-trailer: <id> after the body */
  trailers: boolean
  plan: NodePlan
  fault: StreamFault
  /** NGHTTP2_CANCEL or NGHTTP2_NO_ERROR */
  resetCode: number
  resetAt: number
  /** ms after the connection's first stream this one starts */
  delayMs: number
}

/** close: the client destroys its connection at faultAtMs; goaway: it sends GOAWAY after its last stream started; slow-read: small windows, pauses */
export type ConnectionFault = 'none' | 'close' | 'goaway' | 'slow-read'

export interface ScriptedConnection {
  n: number
  tls: boolean
  streams: ScriptedStream[]
  fault: ConnectionFault
  faultAtMs: number
  /** the client's SETTINGS_INITIAL_WINDOW_SIZE */
  window: number
}

const NO_ERROR = 0
const INTERNAL_ERROR = 2
const CANCEL = 8

function draw(random: () => number) {
  const int = (n: number) => Math.floor(random() * n)
  return { int, pick: <T>(items: readonly T[]): T => items[int(items.length)], chance: (p: number) => random() < p }
}

/** The script of connection n (at most 8 streams, ids n*16+1 on). */
export function scriptConnection(seed: number, n: number): ScriptedConnection {
  const random = connectionRandom(seed, n)
  const { int, chance } = draw(random)
  const tls = chance(0.2)
  const fault: ConnectionFault = chance(0.1) ? 'close' : chance(0.1) ? 'goaway' : chance(0.15) ? 'slow-read' : 'none'
  // not below 8 KiB: cutover sees a reader's progress by the 16 KiB piece, and a reader
  // taking a piece through a tiny window in pauses may take longer than idle_timeout (see the report)
  const window = fault === 'slow-read' ? 8192 + int(16_384) : 65_535
  const count = 1 + int(8)
  const streams: ScriptedStream[] = []
  for (let k = 0; k < count; k++) streams.push(scriptStream(n * 16 + k + 1, random))
  return { n, tls, streams, fault, faultAtMs: int(300), window }
}

function scriptStream(id: number, random: () => number): ScriptedStream {
  const { int, pick, chance } = draw(random)
  const method = pick(['GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT'] as const)
  const hasBody = method === 'POST' || method === 'PUT'
  // some bodies larger than the 64 KiB stream window (and than what cutover keeps for a retry)
  const length = hasBody ? (chance(0.2) ? 65_536 + int(150_000) : int(3000)) : 0
  const body = bodyFor(id, length)
  const fault: StreamFault = chance(0.12) ? (hasBody && length >= 2 && chance(0.6) ? 'reset-upload' : 'reset-download') : 'none'
  const resetAt = fault === 'reset-upload' ? 1 + int(length - 1) : int(4000)
  return {
    id,
    method,
    body,
    hasBody,
    contentLength: hasBody && chance(0.5),
    trailers: hasBody && chance(0.3),
    plan: scriptPlan(random),
    fault,
    resetCode: chance(0.5) ? CANCEL : NO_ERROR,
    resetAt,
    delayMs: chance(0.5) ? 0 : int(40),
  }
}

function scriptPlan(random: () => number): NodePlan {
  const { int, pick, chance } = draw(random)
  const status = pick([200, 200, 200, 200, 204, 404] as const)
  const bodyLength = status === 204 ? 0 : chance(0.15) ? 65_536 + int(200_000) : int(3000)
  const fault: NodeFault = chance(0.5) ? 'none' : pick(['cut', 'reset', 'reset', 'tcp-reset', 'stall', 'goaway-below', 'goaway-above', 'refused'] as const)
  return {
    status,
    bodyLength,
    interim: chance(0.2),
    trailers: chance(0.3),
    contentLength: chance(0.5),
    fault,
    // a fault after the last byte of a body of declared length is no fault an HTTP/1.1 client can see
    // (and a node:http node stalled there would answer its connection's next request out of order)
    faultAt: chance(0.4) || bodyLength === 0 ? -1 : int(bodyLength),
    resetCode: pick([NO_ERROR, INTERNAL_ERROR, CANCEL] as const),
    pieces: 1 + int(4),
  }
}

/** The plan, for a failure message. */
export function describeStream(s: ScriptedStream): string {
  const { body, ...rest } = s
  return JSON.stringify({ ...rest, body: body.length })
}
