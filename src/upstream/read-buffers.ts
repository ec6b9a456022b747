/**
 * The read buffers of node connections (upstream/connection.ts reads with `onread`), and
 * the rule that keeps reusing them safe: a buffer whose bytes a client socket queued
 * instead of writing at once is lent to that socket, and handed out again only once the
 * socket's queue is empty (every write it accepted has gone to the kernel, so nothing
 * points into the buffer). Without it each answer the client socket queued (most 64 KiB
 * answers) cost a fresh buffer, and its garbage.
 */

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

/** lent buffers waiting for their holder's queue to empty; past this the oldest is left to the GC */
const MAX_LENT = 16

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

  /** buffers lent and not yet handed out again (for tests) */
  get lent(): number {
    return this.#lent.length
  }
}

/** the process's one set: every plain-TCP node connection draws from it */
export const readBuffers = new ReadBuffers()
