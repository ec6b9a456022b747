/**
 * The durable audit log (issue 14): every event as one JSON line in a file beside the
 * state file. Each line is written (write(2)) before the event's listeners hear of it, so
 * it survives the process being killed, SIGKILL included; an fdatasync follows at once in
 * the background, so a power loss can cost at most the lines of the last few ms. Past
 * max_size the file is rotated (.1, .2, ... up to `keep`), so the disk use is bounded by
 * (keep + 1) x max_size. On start the newest events are read back; a line that is not an
 * event (a torn write, an edit) is skipped with a warning, never stopping the start.
 */

import type { Logger } from 'pino'
import type { CutoverEvent } from './events.js'

const { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } = process.getBuiltinModule('node:fs')
const { basename, dirname, extname, join } = process.getBuiltinModule('node:path')

export interface AuditFileOptions {
  path: string
  /** rotate when the file would grow past this many bytes */
  maxBytes: number
  /** rotated files kept beside the current one */
  keep: number
  logger: Logger
}

export interface AuditLoad {
  /** oldest first */
  events: CutoverEvent[]
  /** lines that were not events */
  skipped: number
}

/** The audit file beside a state file: var/cutover-state.json -> var/cutover-state.events.jsonl. */
export function auditPathFor(statePath: string): string {
  const name = basename(statePath)
  const ext = extname(name)
  return join(dirname(statePath), `${ext ? name.slice(0, -ext.length) : name}.events.jsonl`)
}

/** An event read back from a line, or null when the line is not one. */
export function parseAuditLine(line: string): CutoverEvent | null {
  let data: unknown
  try {
    data = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null
  const e = data as Record<string, unknown>
  if (!Number.isSafeInteger(e.id) || (e.id as number) < 1 || typeof e.type !== 'string' || typeof e.at !== 'string') return null
  return e as CutoverEvent
}

export class AuditFile {
  readonly path: string
  readonly #maxBytes: number
  readonly #keep: number
  readonly #logger: Logger
  #fd: number | null = null
  #size = 0
  #syncing = false
  #dirty = false
  #writeFailures = 0

  constructor(options: AuditFileOptions) {
    this.path = options.path
    this.#maxBytes = options.maxBytes
    this.#keep = options.keep
    this.#logger = options.logger
  }

  /** The newest `limit` events across the current and rotated files, oldest first. */
  load(limit: number): AuditLoad {
    let events: CutoverEvent[] = []
    let skipped = 0
    for (let i = 0; i <= this.#keep && events.length < limit; i++) {
      const file = this.#rotated(i)
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        this.#logger.warn({ path: file, err: (err as Error).message }, 'audit log: cannot read a file, its events are not restored')
        continue
      }
      const found: CutoverEvent[] = []
      let bad = 0
      let firstBad = 0
      const lines = text.split('\n')
      for (let n = 0; n < lines.length; n++) {
        const line = lines[n]
        if (line.trim() === '') continue
        const event = parseAuditLine(line)
        if (event) found.push(event)
        else if (bad++ === 0) firstBad = n + 1
      }
      if (bad > 0) this.#logger.warn({ path: file, skipped: bad, first_line: firstBad }, 'audit log: lines that are not events were skipped')
      skipped += bad
      events = found.concat(events)
    }
    return { events: events.length > limit ? events.slice(events.length - limit) : events, skipped }
  }

  /** Open for appending (creating the directory and file); a torn last line is ended first. */
  open(): void {
    mkdirSync(dirname(this.path), { recursive: true })
    const fd = openSync(this.path, 'a+', 0o640)
    this.#fd = fd
    this.#size = fstatSync(fd).size
    if (this.#size > 0) {
      const last = Buffer.alloc(1)
      readSync(fd, last, 0, 1, this.#size - 1)
      if (last[0] !== 0x0a) this.#write(Buffer.from('\n'))
    }
  }

  /** Append one event as a line; rotates first when the line would pass max_size. Never throws. */
  append(event: CutoverEvent): void {
    if (this.#fd === null) return
    const line = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8')
    try {
      if (this.#size > 0 && this.#size + line.length > this.#maxBytes) this.#rotate()
      this.#write(line)
      this.#scheduleSync()
    } catch (err) {
      // the event stays in memory and in /v1/events; say so, without a line per event
      if (this.#writeFailures++ % 100 === 0) this.#logger.error({ path: this.path, err: (err as Error).message, failures: this.#writeFailures }, 'audit log: cannot write an event')
    }
  }

  /** Sync and close. */
  close(): void {
    if (this.#fd === null) return
    const fd = this.#fd
    this.#fd = null
    try {
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  #write(buf: Buffer): void {
    let off = 0
    while (off < buf.length) off += writeSync(this.#fd as number, buf, off, buf.length - off)
    this.#size += buf.length
  }

  #rotate(): void {
    const fd = this.#fd as number
    fdatasyncSync(fd)
    closeSync(fd)
    this.#fd = null
    rmSync(this.#rotated(this.#keep), { force: true })
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        renameSync(this.#rotated(i), this.#rotated(i + 1))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    if (this.#keep >= 1) renameSync(this.path, this.#rotated(1))
    else rmSync(this.path, { force: true })
    this.#fd = openSync(this.path, 'a+', 0o640)
    this.#size = 0
  }

  /** One fdatasync at a time in the background; lines written meanwhile get the next. */
  #scheduleSync(): void {
    this.#dirty = true
    if (this.#syncing || this.#fd === null) return
    this.#syncing = true
    this.#dirty = false
    const fd = this.#fd
    fdatasync(fd, (err) => {
      this.#syncing = false
      if (err && this.#fd === fd) this.#logger.warn({ path: this.path, err: err.message }, 'audit log: fdatasync failed')
      if (this.#dirty && this.#fd !== null) this.#scheduleSync()
    })
  }

  #rotated(i: number): string {
    return i === 0 ? this.path : `${this.path}.${i}`
  }
}
