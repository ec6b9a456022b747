/**
 * What an exchange or a tunnel may do with the client connection it serves: the narrow
 * side of ClientConnection they are given, so they depend on this contract, not on the
 * connection that creates them.
 */

import type net from 'node:net'
import type { Forwarder } from './forwarder.js'
import type { Phase } from './phase.js'

export interface ClientSide {
  readonly fw: Forwarder
  readonly socket: net.Socket
  readonly remoteAddress: string | undefined
  /** the client's address as X-Forwarded-For shows it */
  readonly address: string
  readonly phase: Phase
  /** the request's keep-alive wish */
  readonly keepAlive: boolean
  /** shutting down: close once the request in flight is answered */
  readonly draining: boolean
  /** the client ended its side (FIN) */
  readonly ended: boolean
  readonly closed: boolean
  /** read more of the request body (after the node took what it had) */
  pumpBody(): void
  /** the exchange is over; keepAlive: the connection may serve another request; now: monotonic ms, when just read */
  exchangeDone(keepAlive: boolean, now?: number): void
  /** false when the socket's buffer is full (wait for resume) */
  write(bytes: Buffer | string): boolean
  /** bytes as one chunk of a body cutover frames itself (never empty: that is the last chunk); as write */
  writeChunk(bytes: Buffer): boolean
  /**
   * Bytes written to the socket that have not gone to the kernel yet: a slow reader's
   * backlog. It shrinks while the client reads, however slowly (a stall is when it does not).
   */
  unsent(): number
  answerAndClose(bytes: Buffer): void
  destroy(): void
  /**
   * The answer in flight broke where its framing shows it (a length not reached, a chunked
   * body without its last chunk): what was written goes out first (a pipelined answer before
   * it, whole), then the connection ends. The rest of what the client sends is dropped.
   */
  endBroken(): void
  /**
   * Cut with a TCP reset: for an answer whose end is the connection's close, where a plain
   * close would read as the answer's end (a TLS connection closes without close_notify)
   */
  reset(): void
  /**
   * The answer just written ends with the connection's close (read until close, or
   * de-chunked, to an HTTP/1.0 client): if its last bytes, still queued, are cut, the cut
   * is a reset, where a FIN would end it looking whole
   */
  closeEndsAnswer(): void
  pause(): void
  resume(): void
}
