// The seeded script of one fuzzed connection (no tests here): its requests, the answer each
// request's node gives (the node's plan) and how the client writes. Drawn from (seed,
// connection) alone, so a connection's script is the same on every run; only timing differs.
import { type Random, seededRandom } from '../../../src/clock.js'

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT'
export type AnswerKind = 'length' | 'chunked' | 'until-close' | 'no-content' | 'not-modified' | 'head' | 'switch'
/** the client's HTTP version: an HTTP/1.0 one keeps its connection only when it asks to */
export type Version = '1.1' | '1.0' | '1.0-keep-alive'
/** what the node does on its first attempt at a request; a retry is always answered whole */
export type NodeFault = 'none' | 'cut' | 'reset' | 'stall'
export type ClientFault = 'none' | 'half-close' | 'destroy' | 'slow-read'

export interface NodePlan {
  /** switch: 101, then an echo of every byte the tunnel brings (an upgrade's plan); a declined upgrade is a 401 */
  kind: AnswerKind
  status: number
  bodyLength: number
  /** 1xx answers before the final one */
  interim: number[]
  connectionClose: boolean
  /** Keep-Alive: timeout=N, or none */
  keepAliveSeconds: number | null
  /** answered on the request's head, before its body arrived */
  early: boolean
  trailers: boolean
  fault: NodeFault
  /** the answer's bytes, 1xx first */
  bytes: Buffer
  /** where the final answer's head ends in bytes */
  headEnd: number
  /**
   * the first attempt writes bytes up to here, then faults (bytes.length without a fault);
   * a 101's: past headEnd, the fault comes after cutAt - headEnd bytes of the echo
   */
  cutAt: number
  /** write boundaries inside bytes, and the pause (ms) after each */
  splits: Array<{ at: number; pauseMs: number }>
}

export interface ScriptedRequest {
  id: number
  method: Method
  body: 'length' | 'chunked' | 'none'
  plan: NodePlan
  bytes: Buffer
  /** the request says Connection: close (it is the connection's last) */
  close: boolean
  /** Connection: Upgrade, Upgrade: websocket (always the connection's last request) */
  upgrade: boolean
  /** an upgrade's bytes after its head (in bytes too): sent right behind it (pipe) or after the 101 (seq), echoed once tunnelled */
  tunnel: Buffer
}

export interface ScriptedConnection {
  n: number
  version: Version
  /** over TLS (proxy.tls) */
  tls: boolean
  /** pipe: every request written at once; seq: each after the answer before it */
  mode: 'pipe' | 'seq'
  requests: ScriptedRequest[]
  fault: ClientFault
  /** half-close or destroy after this many bytes of the requests */
  faultAt: number
}

/** The body of request or answer id: `<id>` repeated, so a byte out of place shows whose it is. */
export function bodyFor(id: number, length: number): Buffer {
  const unit = Buffer.from(`<${id}>`)
  const body = Buffer.alloc(length)
  for (let i = 0; i < length; i += unit.length) unit.copy(body, i)
  return body
}

/** The generator of connection n of seed: the same numbers whatever ran before. */
export function connectionRandom(seed: number, n: number): Random {
  return seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0)
}

function draw(random: Random) {
  const int = (n: number) => Math.floor(random() * n)
  return { int, pick: <T>(items: readonly T[]): T => items[int(items.length)], chance: (p: number) => random() < p }
}

/** The script of connection n (at most 8 requests, ids n*16+1 on). */
export function scriptConnection(seed: number, n: number): ScriptedConnection {
  const random = connectionRandom(seed, n)
  const { int, pick, chance } = draw(random)
  const mode = pick(['pipe', 'pipe', 'seq'] as const)
  const version = pick(['1.1', '1.1', '1.1', '1.1', '1.0', '1.0-keep-alive'] as const)
  const tls = chance(0.2)
  const requests: ScriptedRequest[] = []
  const depth = 1 + int(8)
  for (let k = 0; k < depth; k++) {
    // requests pipelined after one that ends the connection (Connection: close, HTTP/1.0
    // without keep-alive) are drawn too: they must never be answered, nor reach a node
    const r = scriptRequest(n * 16 + k + 1, version, random)
    requests.push(r)
    // after an upgrade the connection's bytes are the tunnel's
    if (r.upgrade) break
  }
  const fault: ClientFault = chance(0.15) ? pick(['half-close', 'destroy'] as const) : chance(0.15) ? 'slow-read' : 'none'
  const length = requests.reduce((sum, r) => sum + r.bytes.length, 0)
  return { n, version, tls, mode, requests, fault, faultAt: int(length + 1) }
}

/** The request asks that its answer be the connection's last. */
export function endsConnection(conn: ScriptedConnection, r: ScriptedRequest): boolean {
  return r.close || conn.version === '1.0'
}

function scriptRequest(id: number, version: Version, random: Random): ScriptedRequest {
  const { int, pick, chance } = draw(random)
  const http10 = version !== '1.1'
  const upgrade = !http10 && chance(0.06)
  const method = upgrade ? 'GET' : pick(['GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT'] as const)
  // an HTTP/1.0 request has no chunked body (cutover refuses Transfer-Encoding in one)
  const body = method === 'POST' || method === 'PUT' ? pick(http10 ? (['length', 'none'] as const) : (['length', 'chunked', 'none'] as const)) : 'none'
  let head = `${method} /r/${id} HTTP/1.${http10 ? 0 : 1}\r\nHost: fuzz\r\n`
  const payload = bodyFor(id, chance(0.2) ? int(200_000) : int(2000))
  let framed: Buffer = Buffer.alloc(0)
  if (body === 'length') {
    head += `Content-Length: ${payload.length}\r\n`
    framed = payload
  } else if (body === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n'
    framed = chunked(payload, () => 1 + int(30_000), '')
  }
  if (body !== 'none' && !http10 && chance(0.3)) head += 'Expect: 100-continue\r\n'
  const close = !upgrade && chance(0.08)
  if (close) head += 'Connection: close\r\n'
  else if (version === '1.0-keep-alive') head += 'Connection: keep-alive\r\n'
  else if (upgrade) head += 'Connection: Upgrade\r\nUpgrade: websocket\r\n'
  // an Upgrade in an HTTP/1.0 request is ignored (RFC 9110 7.8): an ordinary request, its
  // answer framed as any other, the requests behind it requests; the node never sees the
  // Upgrade (fuzz-node would take the bytes after it for a tunnel's). Every fifth id, drawn
  // from no random number, so the seeds' other draws stay as they were
  if (http10 && id % 5 === 0) head += 'Connection: Upgrade\r\nUpgrade: websocket\r\n'
  const tunnel = upgrade ? bodyFor(id, chance(0.2) ? int(200_000) : int(2000)) : Buffer.alloc(0)
  if (upgrade) framed = tunnel
  const plan = scriptPlan(id, method, upgrade, tunnel.length, random)
  return { id, method, body, plan, bytes: Buffer.concat([Buffer.from(head + '\r\n'), framed]), close, upgrade, tunnel }
}

function chunked(payload: Buffer, size: () => number, trailers: string): Buffer {
  const parts: Buffer[] = []
  for (let i = 0; i < payload.length; ) {
    const n = Math.min(payload.length - i, size())
    parts.push(Buffer.from(n.toString(16) + '\r\n'), payload.subarray(i, i + n), Buffer.from('\r\n'))
    i += n
  }
  parts.push(Buffer.from(`0\r\n${trailers}\r\n`))
  return Buffer.concat(parts)
}

function scriptPlan(id: number, method: Method, upgrade: boolean, tunnelLength: number, random: Random): NodePlan {
  const { int, pick, chance } = draw(random)
  // an upgrade is switched, or declined with a 401 and a body
  const kind: AnswerKind = upgrade
    ? pick(['switch', 'switch', 'switch', 'length', 'chunked', 'until-close'] as const)
    : method === 'HEAD'
      ? 'head'
      : pick(['length', 'length', 'chunked', 'chunked', 'until-close', 'no-content', 'not-modified'] as const)
  const bodyLength = chance(0.15) ? 100_000 + int(300_000) : int(3000)
  const interim = chance(0.25) ? [pick([100, 103])] : []
  if (chance(0.1)) interim.push(103)
  const connectionClose = chance(0.15)
  const keepAliveSeconds = chance(0.15) ? int(3) : null
  const early = chance(0.2)
  const pieces = chance(0.4) ? 1 + int(6) : 1
  let fault: NodeFault = chance(0.55) ? 'none' : pick(['cut', 'cut', 'reset', 'reset', 'stall'] as const)
  const faultFraction = random()
  const trailers = chance(0.3)

  const pre = interim.map((s) => (s === 100 ? 'HTTP/1.1 100 Continue\r\n\r\n' : 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n')).join('')
  const body = bodyFor(id, bodyLength)
  let status = upgrade ? 401 : 200
  let fields = `x-id: ${id}\r\n`
  if (connectionClose) fields += 'Connection: close\r\n'
  if (keepAliveSeconds !== null) fields += `Keep-Alive: timeout=${keepAliveSeconds}\r\n`
  let framed: Buffer = Buffer.alloc(0)
  switch (kind) {
    case 'length':
      fields += `Content-Length: ${bodyLength}\r\n`
      framed = body
      break
    case 'head':
      fields += `Content-Length: ${bodyLength}\r\n`
      break
    case 'no-content':
      status = 204
      break
    case 'not-modified':
      status = 304
      fields += 'ETag: "x"\r\n'
      break
    case 'until-close':
      framed = body
      break
    case 'chunked':
      fields += 'Transfer-Encoding: chunked\r\n'
      framed = chunked(body, () => 1 + int(70_000), trailers ? `x-trailer: ${id}\r\n` : '')
      break
    case 'switch':
      status = 101
      fields = `Connection: Upgrade\r\nUpgrade: websocket\r\nx-id: ${id}\r\n`
      break
  }
  const head = `${pre}HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'X'}\r\n${fields}\r\n`
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), framed])
  // a 101's fault may fall in its echo; a tunnel has no idle deadline, so a stall there is a cut
  const faultSpan = kind === 'switch' ? bytes.length + tunnelLength : bytes.length
  const cutAt = fault === 'none' ? bytes.length : Math.floor(faultFraction * faultSpan)
  if (kind === 'switch' && fault === 'stall' && cutAt >= head.length) fault = 'cut'
  const splits: NodePlan['splits'] = []
  for (let k = 1, at = 0; k < pieces; k++) {
    at += 1 + int(Math.max(1, bytes.length - at - 1))
    if (at >= bytes.length) break
    splits.push({ at, pauseMs: int(10) })
  }
  return { kind, status, bodyLength, interim, connectionClose, keepAliveSeconds, early, trailers, fault, bytes, headEnd: head.length, cutAt, splits }
}

/** The plan without its bytes, for a failure message. */
export function describePlan(plan: NodePlan): string {
  const { bytes: _bytes, splits, ...rest } = plan
  return JSON.stringify({ ...rest, splits: splits.map((s) => s.at), length: plan.bytes.length })
}
