// Shared raw-socket fixtures for the hardening tests (no tests here).
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface RawAnswer {
  /** everything the server sent, latin1 */
  text: string
  /** the status of the first answer, 0 when there was none */
  status: number
  /** the server closed the connection (rather than the wait running out) */
  closed: boolean
}

/** Send bytes on a fresh connection and collect the answer until the server closes or waitMs passes. */
export function rawExchange(port: number, bytes: string | Buffer | Array<string | Buffer>, waitMs = 1000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      socket.destroy()
    }, waitMs)
    socket.on('data', (d) => chunks.push(d))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ text, status: m ? Number(m[1]) : 0, closed: !timedOut })
    })
    const parts = Array.isArray(bytes) ? bytes : [bytes]
    for (const p of parts) socket.write(p)
  })
}

/** Every request a recording upstream saw: the head, the body it read, and whether it ended whole. */
export interface SeenRequest {
  method: string
  url: string
  rawHeaders: string[]
  body: string
  complete: boolean
}

export interface RecordingUpstream {
  port: number
  url: string
  seen: SeenRequest[]
  server: http.Server
  close(): Promise<void>
}

/** An upstream that records every request (even those cut short) and answers 200 "ok" once the body ended. */
export async function recordingUpstream(): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    const rec: SeenRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body: '', complete: false }
    seen.push(rec)
    req.setEncoding('latin1')
    req.on('data', (c: string) => (rec.body += c))
    req.on('error', () => undefined)
    req.on('end', () => {
      rec.complete = true
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A raw TCP upstream whose behaviour per connection is given (garbage, silence, resets). */
export async function rawUpstream(onConnection: (socket: net.Socket, firstData: Buffer) => void): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const state = { port: 0, connections: 0, close: async (): Promise<void> => {} }
  const server = net.createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.once('data', (d) => onConnection(socket, d))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as AddressInfo).port
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return state
}

/** Resolve after ms of real time (for waits on real sockets only, never for logic under test). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
