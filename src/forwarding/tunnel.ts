/**
 * Upgrade requests (WebSocket): the request head is written to a node over a fresh TCP or
 * TLS connection, then bytes flow both ways untouched. Rare and long-lived, so plain
 * closures are fine here.
 */

import type { IncomingMessage } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { performance } from 'node:perf_hooks'
import type { UpstreamNode } from '../upstream/node.js'
import type { Forwarder } from './forwarder.js'
import { classifyFailure } from './failure.js'
import { upstreamRequestHeaders } from './headers.js'
import { pickPool } from '../routing/pool-pick.js'

const CRLF = '\r\n'

/** The raw request head for the node: request line, headers, blank line. */
export function requestHead(req: IncomingMessage, headers: readonly string[]): string {
  let head = `${req.method} ${req.url} HTTP/1.1${CRLF}`
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}${CRLF}`
  return head + CRLF
}

/** The status code of a raw response's first bytes ("HTTP/1.1 101 ..."), or 0. */
export function statusOf(chunk: Buffer): number {
  if (chunk.length < 12 || chunk[8] !== 0x20) return 0
  const s = Number(chunk.toString('latin1', 9, 12))
  return Number.isInteger(s) ? s : 0
}

function badGateway(socket: Duplex, status: number): void {
  const body = JSON.stringify({ message: status === 503 ? 'no upstream node is usable' : 'upstream failed' })
  const reason = status === 503 ? 'Service Unavailable' : 'Bad Gateway'
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  } else {
    socket.destroy()
  }
}

/** Tunnel an upgrade request to a node; retries on another node when the connect fails. */
export function openTunnel(fw: Forwarder, req: IncomingMessage, client: Duplex, head: Buffer): void {
  const start = performance.now()
  client.on('error', () => client.destroy())
  const headers = upstreamRequestHeaders(req, fw.https, true)
  const raw = requestHead(req, headers)
  const tried: UpstreamNode[] = []
  let clientClosed = false
  client.once('close', () => {
    clientClosed = true
  })

  const pool = pickPool(fw.router.table, req.headers, req.socket.remoteAddress, fw.random)

  const attempt = (node: UpstreamNode | undefined): void => {
    if (node === undefined) {
      badGateway(client, 503)
      fw.sink.finished(pool, 503, performance.now() - start)
      return
    }
    if (clientClosed) return
    node.inflight++
    fw.sink.attemptStarted(node)
    const cfg = node.config
    const upstream: net.Socket =
      cfg.protocol === 'https:'
        ? tls.connect({ host: cfg.hostname, port: cfg.port, servername: net.isIP(cfg.hostname) ? undefined : cfg.hostname, ALPNProtocols: ['http/1.1'] })
        : net.connect({ host: cfg.hostname, port: cfg.port })
    let connected = false
    let status = 0
    let ended = false
    let failed = false
    const end = (): void => {
      if (ended) return
      ended = true
      node.inflight--
      fw.sink.attemptEnded(node)
    }
    upstream.setNoDelay(true)
    upstream.setTimeout(fw.proxy.connect_timeout, () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })))
    upstream.once(cfg.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      connected = true
      upstream.setTimeout(0)
      upstream.write(raw)
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.once('data', (chunk: Buffer) => {
      status = statusOf(chunk)
      fw.sink.answered(node, status, performance.now() - start)
      fw.sink.finished(node.pool, status, performance.now() - start)
    })
    upstream.on('error', (err) => {
      if (status !== 0 || ended) return
      failed = true
      const kind = classifyFailure(err, connected)
      fw.sink.attemptFailed(node, kind)
      end()
      tried.push(node)
      if (!connected && tried.length <= fw.proxy.retries && !clientClosed) {
        const next = fw.nodeFor(node.pool, tried)
        if (next !== undefined) {
          attempt(next)
          return
        }
      }
      badGateway(client, 502)
      fw.sink.finished(node.pool, 502, performance.now() - start)
    })
    upstream.on('close', () => {
      if (failed) return
      if (!ended && status === 0 && connected) {
        // closed before a byte of answer: the upstream failed
        fw.sink.attemptFailed(node, 'reset')
        end()
        badGateway(client, 502)
        fw.sink.finished(node.pool, 502, performance.now() - start)
        return
      }
      end()
      client.destroy()
    })
    client.once('close', () => upstream.destroy())
  }

  attempt(fw.nodeFor(pool))
}
