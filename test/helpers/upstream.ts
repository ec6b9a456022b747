/** Real upstream HTTP servers on 127.0.0.1:0 for integration tests. */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import net, { type AddressInfo } from 'node:net'

export interface TestUpstream {
  url: string
  port: number
  server: Server
  /** requests seen, in order: method and url */
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>
  close(): Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** Answers 200 with a JSON body naming itself, unless a handler is given. */
export async function startUpstream(name: string, handler?: Handler): Promise<TestUpstream> {
  const seen: TestUpstream['seen'] = []
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    if (handler) return handler(req, res)
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name })
      res.end(JSON.stringify({ upstream: name, path: req.url }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A port on 127.0.0.1 with nothing listening (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface RawServer {
  port: number
  url: string
  /** sockets open now */
  readonly open: number
  /** destroy every socket and stop listening */
  close(): Promise<void>
}

/** A raw TCP server on 127.0.0.1:0 for hand-made nodes: each socket to onSocket, errors ignored, all closed by close(). */
export async function startRawServer(onSocket: (socket: net.Socket) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
    onSocket(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get open() {
      return sockets.size
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
