/** HTTP/2 peers for the tests of issue 12: h2c and TLS upstream servers, a TLS pair, a client. */

import { mkdtempSync, writeFileSync } from 'node:fs'
import http2, { type Http2Server, type Http2SecureServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RawServer, startRawServer } from './upstream.js'

/** A self-signed P-256 certificate for localhost and 127.0.0.1 (test only, valid until 2125). */
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUb/vQjaBMHe1LvktHSSfrCVMJbMQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyOTA3NTYyMVoYDzIxMjYxMTA1
MDc1NjIxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATHC5yubZuK+4w0iAv2hcLC4BIh1H+73aZKkbCsJr6e5oNsK+wIVjLC
CQK308HMJ+o1zQFEyNZuc6pSp/JLJZqJo28wbTAdBgNVHQ4EFgQUnHqzCIjhM5Rj
1xkglMXLtescI5wwHwYDVR0jBBgwFoAUnHqzCIjhM5Rj1xkglMXLtescI5wwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAJC3CE2vXbvq1f/85svr8MUq+gtrR5Xj8lg0S+8QU1JJAiAy
PR8OWqFWmX1XjtccGHj6nJSCJnxxlGlINuaUr0+xSg==
-----END CERTIFICATE-----`
export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3cskIRBpWyw5Ywac
7OG9D/mkymjfV2Qoka9JdwaxK2KhRANCAATHC5yubZuK+4w0iAv2hcLC4BIh1H+7
3aZKkbCsJr6e5oNsK+wIVjLCCQK308HMJ+o1zQFEyNZuc6pSp/JLJZqJ
-----END PRIVATE KEY-----`

/** The pair written to files, as proxy.tls wants them. */
export function tlsFiles(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-h2-'))
  writeFileSync(join(dir, 'cert.pem'), TEST_CERT)
  writeFileSync(join(dir, 'key.pem'), TEST_KEY)
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
}

export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void

export interface H2Upstream {
  port: number
  /** the node entry for a pool: { url: <http url of nothing>, h2: h2c://127.0.0.1:port } */
  h2: string
  server: Http2Server | Http2SecureServer
  /** request headers seen, in order */
  seen: IncomingHttpHeaders[]
  close(): Promise<void>
}

/** Answers 200 with JSON naming itself and the request, unless a handler is given. */
/** options.tls: true for TEST_CERT, or the node's own certificate and key (PEM text). */
export async function startH2Upstream(name: string, handler?: StreamHandler, options: { tls?: boolean | { cert: string; key: string } } = {}): Promise<H2Upstream> {
  const seen: IncomingHttpHeaders[] = []
  const tls = options.tls === true ? { cert: TEST_CERT, key: TEST_KEY } : options.tls
  const server = tls ? http2.createSecureServer(tls) : http2.createServer()
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  server.on('stream', (stream, headers) => {
    seen.push(headers)
    stream.on('error', () => {})
    if (handler) return handler(stream, headers)
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': name })
      stream.end(JSON.stringify({ upstream: name, path: headers[':path'], method: headers[':method'], body: Buffer.concat(chunks).toString() }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    h2: `${options.tls ? 'h2' : 'h2c'}://127.0.0.1:${port}`,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy()
        server.close(() => resolve())
      }),
  }
}

export interface H2Answer {
  status: number
  headers: IncomingHttpHeaders
  trailers: IncomingHttpHeaders
  body: string
}

/** One request on session; resolves with the whole answer. */
export function h2Request(session: http2.ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': '/', ...headers }, { endStream: body === undefined })
    let status = 0
    let resHeaders: IncomingHttpHeaders = {}
    let trailers: IncomingHttpHeaders = {}
    const chunks: Buffer[] = []
    req.on('response', (h) => {
      status = Number(h[':status'])
      resHeaders = h
    })
    req.on('trailers', (h) => {
      trailers = h
    })
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve({ status, headers: resHeaders, trailers, body: Buffer.concat(chunks).toString() }))
    req.on('error', reject)
    if (body !== undefined) req.end(body)
  })
}

/** One HTTP/2 frame (RFC 9113 4.1), for tests that speak the protocol by hand. */
export function h2Frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

/** The client connection preface (RFC 9113 3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

/** HPACK literal header field without indexing, new name (RFC 7541 6.2.2), short strings only. */
export function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)])
}

/** A HEADERS block for GET / over http with :authority a (static table entries 2, 6, 4). */
export const H2_GET = Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), hpackLiteral(':authority', 'a')])

/** One frame read by onFrames: its type, flags, stream and payload. */
export interface H2FrameRead {
  type: number
  flags: number
  stream: number
  payload: Buffer
}

/** Calls onFrame for each whole frame the socket reads (after the server's preface, which is frames too). */
export function onFrames(socket: import('node:net').Socket, onFrame: (frame: H2FrameRead) => void): void {
  let buf = Buffer.alloc(0)
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3)
      if (buf.length < 9 + len) break
      onFrame({ type: buf[3], flags: buf[4], stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) })
      buf = buf.subarray(9 + len)
    }
  })
}

/** Frame types (RFC 9113 6). */
export const DATA = 0x0
export const HEADERS = 0x1
export const RST_STREAM = 0x3
export const SETTINGS = 0x4
export const PUSH_PROMISE = 0x5
export const PING = 0x6
export const GOAWAY = 0x7
export const WINDOW_UPDATE = 0x8
export const CONTINUATION = 0x9

/** Frame flags (RFC 9113 6): ACK on SETTINGS and PING, the others on HEADERS and DATA. */
export const END_STREAM = 0x1
export const ACK = 0x1
export const END_HEADERS = 0x4
export const PADDED = 0x8

/** Settings identifiers (RFC 9113 6.5.2). */
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4

/** A SETTINGS payload of one setting. */
export function setting(id: number, value: number): Buffer {
  const payload = Buffer.alloc(6)
  payload.writeUInt16BE(id)
  payload.writeUInt32BE(value, 2)
  return payload
}

/** Error codes (RFC 9113 7). */
export const NO_ERROR = 0x0
export const PROTOCOL_ERROR = 0x1
export const INTERNAL_ERROR = 0x2
export const REFUSED_STREAM = 0x7
export const CANCEL = 0x8
export const ENHANCE_YOUR_CALM = 0xb

/** A WINDOW_UPDATE frame opening stream's window (0: the connection's) by bytes. */
export function windowUpdate(stream: number, bytes: number): Buffer {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(bytes)
  return h2Frame(WINDOW_UPDATE, 0, stream, payload)
}

/** A GOAWAY frame naming the last stream the sender processed, and why. */
export function goawayFrame(lastStream: number, code: number): Buffer {
  const payload = Buffer.alloc(8)
  payload.writeUInt32BE(lastStream, 0)
  payload.writeUInt32BE(code, 4)
  return h2Frame(GOAWAY, 0, 0, payload)
}

/**
 * A node's h2c listener spoken by hand: it sends its SETTINGS, acks the peer's, and hands
 * every other frame to onFrame (after the client preface). For nodes that misbehave in
 * ways node:http2 will not.
 */
export function startRawH2Node(onFrame: (socket: import('node:net').Socket, frame: H2FrameRead) => void, settings: Buffer = Buffer.alloc(0)): Promise<RawServer> {
  return startRawServer((s) => {
    let buf = Buffer.alloc(0)
    let preface = false
    s.write(h2Frame(SETTINGS, 0, 0, settings))
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (!preface) {
        if (buf.length < H2_PREFACE.length) return
        buf = buf.subarray(H2_PREFACE.length)
        preface = true
      }
      while (buf.length >= 9 && !s.destroyed) {
        const length = buf.readUIntBE(0, 3)
        if (buf.length < 9 + length) return
        const frame = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + length) }
        buf = buf.subarray(9 + length)
        if (frame.type === SETTINGS) {
          if ((frame.flags & ACK) === 0) s.write(h2Frame(SETTINGS, ACK, 0))
          continue
        }
        onFrame(s, frame)
      }
    })
  })
}
