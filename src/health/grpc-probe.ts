/**
 * The gRPC health probe (health.active.type: grpc, issue 12): the gRPC health checking
 * protocol's grpc.health.v1.Health/Check on the node's h2 address (health.active.port
 * instead of its port when set), asking about health.active.grpc_service ('' = the whole
 * server). Healthy: grpc-status 0 and SERVING. The two messages are one field each, so
 * they are encoded here by hand rather than through a protobuf library.
 */

import type { Clock } from '../clock.js'
import { GRPC_CODES, parseGrpcStatus } from '../h2/grpc-status.js'
import { describeProbeError, type ProbeFn } from './probe-fn.js'
import type { ProbeResult } from './probe-state.js'

const http2 = process.getBuiltinModule('node:http2')
const net = process.getBuiltinModule('node:net')

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'

/** HealthCheckResponse.ServingStatus */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const

/** A gRPC message (uncompressed) carrying HealthCheckRequest { string service = 1 }. */
export function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8')
  // field 1, wire type 2 (length-delimited); an empty string is the default and is left out
  const body = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name])
  const head = Buffer.alloc(5)
  head.writeUInt32BE(body.length, 1)
  return Buffer.concat([head, body])
}

/** The ServingStatus in a gRPC message carrying HealthCheckResponse, or undefined when it cannot be read. */
export function servingStatus(message: Buffer): number | undefined {
  if (message.length < 5 || message[0] !== 0) return undefined
  const length = message.readUInt32BE(1)
  const body = message.subarray(5, 5 + length)
  if (body.length !== length) return undefined
  // status is field 1, a varint (tag 0x08); absent means 0 (UNKNOWN)
  let status = 0
  let i = 0
  while (i < body.length) {
    const tag = body[i++]
    const wire = tag & 7
    if (wire === 0) {
      let value = 0
      let shift = 0
      while (i < body.length) {
        const b = body[i++]
        value |= (b & 0x7f) << shift
        shift += 7
        if ((b & 0x80) === 0) break
      }
      if (tag >> 3 === 1) status = value
    } else if (wire === 2) {
      const n = body[i++]
      i += n
    } else {
      return undefined
    }
  }
  return status
}

function varint(n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return Buffer.from(out)
}

/** The gRPC probe; a node without an h2 address fails it, saying so. */
export const grpcProbe =
  (clock: Clock): ProbeFn =>
  (node, config, signal) => {
    const started = clock.monotonic()
    const ms = (): number => Math.round(clock.monotonic() - started)
    const h2 = node.config.h2
    if (h2 === undefined) return Promise.resolve({ ok: false, error: 'no h2 address for a grpc probe', ms: 0 })
    const port = config.port ?? h2.port
    const host = net.isIP(h2.hostname) === 6 ? `[${h2.hostname}]` : h2.hostname
    return new Promise<ProbeResult>((resolve) => {
      let done = false
      const session = http2.connect(`${h2.tls ? 'https' : 'http'}://${host}:${port}`, h2.tls ? { servername: net.isIP(h2.hostname) ? '' : h2.hostname, ALPNProtocols: ['h2'] } : {})
      const finish = (r: ProbeResult): void => {
        if (done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        session.destroy()
        resolve(r)
      }
      const fail = (err: unknown): void => finish({ ok: false, error: describeProbeError(err, config.timeout, signal.aborted), ms: ms() })
      const onAbort = (): void => fail(signal.reason)
      if (signal.aborted) return fail(signal.reason)
      signal.addEventListener('abort', onAbort)
      session.on('error', fail)
      const req = session.request({
        ':method': 'POST',
        ':path': HEALTH_CHECK_PATH,
        ':authority': `${h2.hostname}:${port}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': 'cutover-health',
      })
      let status = 0
      let grpc = -1
      const chunks: Buffer[] = []
      req.on('response', (headers) => {
        status = Number(headers[':status'])
        // a trailers-only answer carries its status here
        if (headers['grpc-status'] !== undefined) grpc = parseGrpcStatus(headers['grpc-status'])
      })
      req.on('trailers', (trailers) => {
        grpc = parseGrpcStatus(trailers['grpc-status'])
      })
      req.on('data', (c: Buffer) => {
        if (chunks.length < 8) chunks.push(c)
      })
      // a stream cancelled because its session failed: the session's error says why
      req.on('error', (err: Error) => fail(err.cause ?? err))
      req.on('end', () => {
        if (status !== 200) return finish({ ok: false, status, error: `status ${status}`, ms: ms() })
        if (grpc !== 0) return finish({ ok: false, status, error: `grpc-status ${grpc < 0 ? 'missing' : (GRPC_CODES[grpc] ?? grpc)}`, ms: ms() })
        const serving = servingStatus(Buffer.concat(chunks))
        if (serving === 1) return finish({ ok: true, status, ms: ms() })
        finish({ ok: false, status, error: serving === undefined ? 'unreadable HealthCheckResponse' : (SERVING_STATUS[serving] ?? `serving status ${serving}`), ms: ms() })
      })
      req.end(healthCheckRequest(config.grpc_service))
    })
  }
