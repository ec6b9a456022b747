/**
 * A test upstream that can go down (server closed, every connection cut) and come back on
 * the same port, like a Kong node restarted in place. It notes when it last came up and
 * when it first served proxied traffic (not probes) after that.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const PROBE_PATH = '/status/ready'

export interface NodeServer {
  readonly name: string
  readonly url: string
  readonly port: number
  /** proxied requests (not probes) served since start */
  readonly served: number
  /** performance.now() of the last up(); 0 before any */
  readonly upAt: number
  /** performance.now() of the first proxied request after the last up(); 0 before any */
  readonly firstServedAt: number
  /** close the listener and cut every connection, idle or busy */
  down(): Promise<void>
  /** listen again on the same port */
  up(): Promise<void>
  close(): Promise<void>
}

/** Answer 200 naming itself, or let `handler` answer proxied requests (probes always get 200). */
export async function startNodeServer(name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<NodeServer> {
  let served = 0
  let upAt = 0
  let firstServedAt = 0
  let port = 0
  let server: Server | null = null
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === PROBE_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"message":"ready"}')
      return
    }
    served++
    if (firstServedAt === 0) firstServedAt = performance.now()
    if (handler) {
      handler(req, res)
      return
    }
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name })
    res.end(`{"upstream":"${name}"}`)
  }
  const listen = async (): Promise<void> => {
    const s = createServer(onRequest)
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    server = s
    port = (s.address() as AddressInfo).port
    upAt = performance.now()
    firstServedAt = 0
  }
  const down = async (): Promise<void> => {
    const s = server
    if (s === null) return
    server = null
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections()
    })
  }
  await listen()
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    get served() {
      return served
    },
    get upAt() {
      return upAt
    },
    get firstServedAt() {
      return firstServedAt
    },
    down,
    up: listen,
    close: down,
  }
}
