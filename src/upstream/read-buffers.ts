/**
 * The read buffers of sockets that read with `onread` (node connections, upstream/
 * connection.ts; a client connection's request body), and the rule that keeps reusing
 * them safe: a buffer whose bytes the socket written to queued instead of writing at once
 * is lent to that socket, and handed out again only once the socket's queue is empty
 * (every write it accepted has gone to the kernel, so nothing points into the buffer).
 * Without it each answer the client socket queued (most 64 KiB answers) cost a fresh
 * buffer, and its garbage; a fresh buffer per read of an upload costs more still: V8
 * counts each as external memory and runs a full mark-compact every ~64 MiB of them
 * (bench/README.md, "Uploads: the slow mode").
 */

import type { Socket } from 'node:net'

/** Whatever may still hold a region of a lent buffer: a client socket, seen as a Writable. */
export interface Holder {
  readonly writableLength: number
  readonly destroyed: boolean
}

/**
 * bytes a node connection reads at most at once: a 64 KiB body and its head in one read
 * (64 KiB took two reads and two client writes per such answer), at 128 KiB of memory per
 * open node connection
 */
export const READ_SIZE = 128 * 1024

/**
 * Bytes written to socket and not yet taken by the kernel: those still in its stream's
 * queue plus what libuv has left of the writes in progress (the handle's writeQueueSize,
 * which Node's own `bufferSize` read in older versions). Never grows once nothing more is
 * written, and falls as a slow reader takes the answer, so it measures progress as nginx's
 * send_timeout does: between two successful writes.
 */
export function unsentBytes(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle
  return socket.writableLength + (handle?.writeQueueSize ?? 0)
}

/** lent buffers waiting for their holder's queue to empty; past this the oldest is left to the GC */
const MAX_LENT = 16

/** the holder of a buffer given back: nothing queued, so it is free at once */
const NOBODY: Holder = { writableLength: 0, destroyed: false }

export class ReadBuffers {
  readonly #size: number
  readonly #maxLent: number
  #lent: Buffer[] = []
  #holders: Holder[] = []

  constructor(size = READ_SIZE, maxLent = MAX_LENT) {
    this.#size = size
    this.#maxLent = maxLent
  }

  /** A buffer nothing holds: a lent one whose holder has written everything, or a new one. */
  take(): Buffer {
    const holders = this.#holders
    for (let i = 0; i < holders.length; i++) {
      const h = holders[i]!
      // a destroyed socket's queue never empties: its buffers stay with the GC
      if (h.writableLength === 0 && !h.destroyed) {
        const buffer = this.#lent[i]!
        this.#lent.splice(i, 1)
        holders.splice(i, 1)
        return buffer
      }
    }
    return Buffer.allocUnsafe(this.#size)
  }

  /** buffer's bytes sit (partly) in holder's queue: keep it until that queue is empty. */
  lend(buffer: Buffer, holder: Holder): void {
    if (this.#lent.length >= this.#maxLent) {
      this.#lent.shift()
      this.#holders.shift()
    }
    this.#lent.push(buffer)
    this.#holders.push(holder)
  }

  /** buffer is free (nothing points into it): hand it out again. */
  give(buffer: Buffer): void {
    this.lend(buffer, NOBODY)
  }

  /** the size of the buffers handed out */
  get size(): number {
    return this.#size
  }

  /** buffers lent and not yet handed out again (for tests) */
  get lent(): number {
    return this.#lent.length
  }
}

/** the process's one set: every plain-TCP node connection draws from it */
export const readBuffers = new ReadBuffers()

/**
 * The buffer one socket reads into with `onread`, reused from read to read: a chunk given
 * to the socket's user is valid during that call only, unless the user
 * - `retain()`s it (a partial head kept for the next read, a chunk it keeps): the next read
 *   goes into another buffer and this one is left to the user and the GC; or
 * - `lend()`s it to the socket it wrote the chunk to, when that socket queued some of it
 *   (`writableLength > 0` after the write): the buffer goes to the shared set, handed out
 *   again once that queue is empty, and the next read goes into another.
 *
 * first > 0: reads go into a small buffer of the slot's own until a read fills it, then
 * into the set's (a pooled node connection holds its buffer while it lives: small answers
 * keep it at one page). `release()` gives the buffer back to the set when the socket is
 * done reading into it for now (a request body read whole).
 */
export class ReadSlot {
  readonly #set: ReadBuffers
  #first: number
  #buffer: Buffer | null = null
  #lentTo: Holder | null = null
  #retained = false

  constructor(first = 0, set = readBuffers) {
    this.#first = first
    this.#set = set
  }

  /** The buffer the next read goes into (call after each read). */
  next(): Buffer {
    let buffer = this.#settle()
    if (buffer === null) {
      buffer = this.#first > 0 ? Buffer.allocUnsafeSlow(this.#first) : this.#set.take()
      this.#buffer = buffer
    }
    return buffer
  }

  /** A read put nread bytes into the slot's buffer: a full small buffer is outgrown. */
  read(nread: number): void {
    if (this.#first > 0 && this.#buffer !== null && nread === this.#buffer.length) this.#first = 0
  }

  /** The user keeps the last chunk: the next read needs another buffer. */
  retain(): void {
    this.#retained = true
  }

  /** Part of the last chunk sits in holder's write queue. */
  lend(holder: Holder): void {
    this.#lentTo = holder
  }

  /** No more reads into this buffer for now: it goes back to the set. */
  release(): void {
    const buffer = this.#settle()
    if (buffer !== null && buffer.length === this.#set.size) this.#set.give(buffer)
    this.#buffer = null
  }

  /** the size of the buffer the next read goes into; 0 before the first (tests) */
  get size(): number {
    return this.#buffer === null ? 0 : this.#buffer.length
  }

  /** the buffer still free to read into, or null (the last one was kept, lent or outgrown) */
  #settle(): Buffer | null {
    const buffer = this.#buffer
    const lentTo = this.#lentTo
    const retained = this.#retained
    this.#lentTo = null
    this.#retained = false
    if (buffer === null || retained) return (this.#buffer = null)
    if (lentTo !== null && (lentTo.writableLength > 0 || lentTo.destroyed)) {
      // a destroyed socket's queue never empties: its buffer is left to the GC
      if (!lentTo.destroyed && buffer.length === this.#set.size) this.#set.lend(buffer, lentTo)
      return (this.#buffer = null)
    }
    // a small first buffer a read filled: the next read goes into a full-size one
    if (this.#first === 0 && buffer.length !== this.#set.size) return (this.#buffer = null)
    return buffer
  }
}
