/**
 * A simulated Kong node for the demo and for tests: a traffic listener that answers every
 * path with a small JSON echo, and a status listener with Kong's /status and
 * /status/ready. Errors and latency can be injected and changed while it runs.
 *
 * Injected errors: with probability errorRate a request gets a Kong-style 5xx instead of
 * 200; the lower half of that band answers 500 ("An unexpected error occurred", what Kong
 * says when a plugin fails), the upper half 503 ("failure to get a peer from the
 * ring-balancer", what Kong says when its own upstream has no target). Both count as y
 * errors for the gates; only the 503s also count toward cutover's passive ejection, so
 * the demo shows both mechanisms without ejecting every node at once.
 *
 * /status and /status/ready are served on the traffic port too (never delayed, never
 * failed), because the demo's health.active probes every node on the same port scheme and
 * the simulated nodes' status ports are all different.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock, systemRandom, type Clock, type Random, type TimerHandle } from '../clock.js'
import type { PoolName } from '../config/types.js'
import { CutoverError } from '../errors.js'

const http = process.getBuiltinModule('node:http')

export interface SimNodeOptions {
  pool: PoolName
  version: string
  /** the node's name in answers (x-upstream-node, body.node); default: the pool name */
  name?: string
  /** default 127.0.0.1 */
  host?: string
  /** 0..1, share of requests answered with a 500 or 503; default 0 */
  errorRate?: number
  /** delay before each traffic answer, ms; default 0 */
  latencyMs?: number
  /** /status/ready answers 503 until this many ms after start; default 0 */
  readyAfterMs?: number
  random?: Random
  clock?: Clock
}

export interface SimNode {
  readonly pool: PoolName
  readonly name: string
  readonly version: string
  /** traffic listener, e.g. http://127.0.0.1:41234 */
  readonly url: string
  readonly port: number
  /** the separate status listener's port (Kong's status_listen) */
  readonly statusPort: number
  setErrorRate(rate: number): void
  setLatency(ms: number): void
  close(): Promise<void>
}

const NOT_READY = JSON.stringify({ message: 'no configuration available (empty configuration present)' })
const READY = JSON.stringify({ message: 'ready' })
const ERROR_500 = JSON.stringify({ message: 'An unexpected error occurred' })
const ERROR_503 = JSON.stringify({ message: 'failure to get a peer from the ring-balancer' })
const NOT_FOUND = JSON.stringify({ message: 'Not found' })
const JSON_TYPE = 'application/json; charset=utf-8'

/** Start a simulated Kong node; resolves once both listeners are bound. */
export async function startSimNode(options: SimNodeOptions): Promise<SimNode> {
  const host = options.host ?? '127.0.0.1'
  const name = options.name ?? options.pool
  const random = options.random ?? systemRandom
  const clock = options.clock ?? systemClock
  const server = `kong/${options.version}`
  let errorRate = checkRate(options.errorRate ?? 0)
  let latencyMs = checkLatency(options.latencyMs ?? 0)
  const startedAt = clock.now()
  const readyAt = startedAt + (options.readyAfterMs ?? 0)
  const timers = new Set<TimerHandle>()
  let closed = false

  const statusBody = JSON.stringify({
    server: { connections_accepted: 0, connections_active: 0, total_requests: 0 },
    database: { reachable: true },
    node: name,
    version: options.version,
  })

  /** Answers /status and /status/ready; false when the path is neither. */
  function serveStatus(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req.url)
    if (path === '/status') {
      send(res, 200, statusBody)
      return true
    }
    if (path === '/status/ready') {
      if (clock.now() >= readyAt) send(res, 200, READY)
      else send(res, 503, NOT_READY)
      return true
    }
    return false
  }

  function answer(req: IncomingMessage, res: ServerResponse): void {
    if (res.destroyed) return
    res.setHeader('server', server)
    res.setHeader('x-upstream-node', name)
    const r = errorRate > 0 ? random() : 1
    if (r < errorRate) {
      send(res, r < errorRate / 2 ? 500 : 503, r < errorRate / 2 ? ERROR_500 : ERROR_503)
      return
    }
    send(res, 200, JSON.stringify({ node: name, version: options.version, path: req.url, method: req.method }))
  }

  const traffic = http.createServer((req, res) => {
    req.on('error', () => res.destroy())
    // read and discard the body; answer once it has all arrived, like a proxied API would
    req.resume()
    req.on('end', () => {
      if (serveStatus(req, res)) return
      if (latencyMs <= 0) return answer(req, res)
      const handle = clock.setTimeout(() => {
        timers.delete(handle)
        answer(req, res)
      }, latencyMs)
      timers.add(handle)
    })
  })

  const status = http.createServer((req, res) => {
    req.resume()
    if (!serveStatus(req, res)) send(res, 404, NOT_FOUND)
  })

  const port = await listen(traffic, host)
  let statusPort: number
  try {
    statusPort = await listen(status, host)
  } catch (err) {
    await closeServer(traffic)
    throw err
  }

  return {
    pool: options.pool,
    name,
    version: options.version,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    statusPort,
    setErrorRate(rate) {
      errorRate = checkRate(rate)
    },
    setLatency(ms) {
      latencyMs = checkLatency(ms)
    },
    async close() {
      if (closed) return
      closed = true
      for (const handle of timers) clock.clearTimeout(handle)
      timers.clear()
      await Promise.all([closeServer(traffic), closeServer(status)])
    },
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status
  res.setHeader('content-type', JSON_TYPE)
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

function pathOf(url: string | undefined): string {
  if (!url) return '/'
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

function checkRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new CutoverError('CUTOVER_ERR_USAGE', `error rate must be within 0..1, got ${rate}`)
  return rate
}

function checkLatency(ms: number): number {
  if (!(ms >= 0 && Number.isFinite(ms))) throw new CutoverError('CUTOVER_ERR_USAGE', `latency must be a finite number of ms >= 0, got ${ms}`)
  return ms
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    // keep-alive connections from the proxy's pools would hold close() open otherwise
    server.closeAllConnections()
  })
}
