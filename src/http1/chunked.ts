/**
 * An incremental decoder of chunked bodies (RFC 9112 7.1): feed it bytes as they arrive;
 * it says how many belong to the body, the payload slices (views, never copies), and
 * when the last chunk and its trailers are through. Strict: a size is hex digits only, an
 * extension is `;token[=token|quoted-string]` with no whitespace, every line ends in CRLF.
 */

import { bytesEqualLower, COLON, CR, FIELD_VALUE, HTAB, HEX, latin1, LF, SP, TOKEN } from './chars.js'

const enum State {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

/** Chunk framing problems, as static strings. */
export const CHUNK_ERROR = {
  badSize: 'bad chunk size',
  sizeOverflow: 'chunk size too large',
  badExtension: 'bad chunk extension',
  bareLineEnd: 'chunk line not ended by CRLF',
  noCrlfAfterData: 'chunk data not followed by CRLF',
  trailerTooLarge: 'trailers too large',
  badTrailer: 'malformed trailer field',
} as const

/** 2^53 / 16: one more hex digit could leave the safe integers */
const SIZE_LIMIT = 2 ** 49

export interface ChunkResult {
  consumed: number
  data: Buffer[]
  done: boolean
  error: string | null
}

export class ChunkedDecoder {
  /** Trailer fields seen after the last chunk, flat [name, value, ...] (set once done). */
  readonly trailers: string[] = []
  /** payload bytes decoded so far */
  payloadBytes = 0
  readonly #maxTrailerSize: number
  #state = State.Size
  #size = 0
  #digits = 0
  /** bytes of data still due in the current chunk */
  #left = 0
  /** extension: 0 name's first byte, 6 rest of the name, 1 after '=', 2 token value, 3 in quotes, 4 quoted-pair, 5 after quotes */
  #ext = 0
  /** the trailer line under way (it may span pushes) */
  #line: Buffer | null = null
  #trailerBytes = 0
  #error: string | null = null

  constructor(options?: { maxTrailerSize?: number }) {
    this.#maxTrailerSize = options?.maxTrailerSize ?? 16384
  }

  get done(): boolean {
    return this.#state === State.Done
  }

  /** Consume bytes of buf; see ChunkResult. After done or an error, consumes nothing more. */
  push(buf: Buffer): ChunkResult {
    const data: Buffer[] = []
    if (this.#error !== null) return { consumed: 0, data, done: false, error: this.#error }
    let i = 0
    const n = buf.length
    while (i < n && this.#state !== State.Done) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#left, n - i)
          data.push(buf.subarray(i, i + take))
          this.payloadBytes += take
          this.#left -= take
          i += take
          if (this.#left === 0) this.#state = State.DataCr
          break
        }
        case State.Size: {
          const c = buf[i]
          const h = HEX[c]
          if (h >= 0) {
            if (this.#size >= SIZE_LIMIT) return this.#fail(i, data, CHUNK_ERROR.sizeOverflow)
            this.#size = this.#size * 16 + h
            this.#digits++
            i++
          } else if (this.#digits === 0) {
            return this.#fail(i, data, CHUNK_ERROR.badSize)
          } else if (c === CR) {
            this.#state = State.SizeLf
            i++
          } else if (c === 0x3b) {
            this.#state = State.Ext
            this.#ext = 0
            i++
          } else {
            return this.#fail(i, data, CHUNK_ERROR.badSize)
          }
          break
        }
        case State.Ext: {
          const c = buf[i]
          if (!this.#extByte(c)) return this.#fail(i, data, CHUNK_ERROR.badExtension)
          i++
          break
        }
        case State.SizeLf: {
          if (buf[i] !== LF) return this.#fail(i, data, CHUNK_ERROR.bareLineEnd)
          i++
          if (this.#size === 0) {
            this.#state = State.Trailer
          } else {
            this.#left = this.#size
            this.#state = State.Data
          }
          this.#size = 0
          this.#digits = 0
          break
        }
        case State.DataCr:
          if (buf[i] !== CR) return this.#fail(i, data, CHUNK_ERROR.noCrlfAfterData)
          this.#state = State.DataLf
          i++
          break
        case State.DataLf:
          if (buf[i] !== LF) return this.#fail(i, data, CHUNK_ERROR.noCrlfAfterData)
          this.#state = State.Size
          i++
          break
        case State.Trailer: {
          const r = this.#trailer(buf, i)
          if (r < 0) return this.#fail(i, data, this.#error!)
          i = r
          break
        }
        default:
          break
      }
    }
    return { consumed: i, data, done: this.#state === State.Done, error: null }
  }

  /** One byte of a chunk extension; false when it breaks `;token[=token|quoted-string]`. */
  #extByte(c: number): boolean {
    switch (this.#ext) {
      case 0: // a name needs one byte at least (llhttp refuses a bare ';')
        if (TOKEN[c] !== 1) return false
        this.#ext = 6
        return true
      case 6: // the rest of the name
        if (TOKEN[c] === 1) return true
        if (c === 0x3d) {
          this.#ext = 1
          return true
        }
        return this.#extEnd(c)
      case 1: // first byte of the value
        if (c === 0x22) {
          this.#ext = 3
          return true
        }
        if (TOKEN[c] === 1) {
          this.#ext = 2
          return true
        }
        return false
      case 2: // token value
        if (TOKEN[c] === 1) return true
        return this.#extEnd(c)
      case 3: // quoted-string
        if (c === 0x22) this.#ext = 5
        else if (c === 0x5c) this.#ext = 4
        else if (FIELD_VALUE[c] !== 1) return false
        return true
      case 4: // quoted-pair
        if (FIELD_VALUE[c] !== 1) return false
        this.#ext = 3
        return true
      default: // after the closing quote
        return this.#extEnd(c)
    }
  }

  /** After an extension: another one or the line end. */
  #extEnd(c: number): boolean {
    if (c === 0x3b) {
      this.#ext = 0
      return true
    }
    if (c === CR) {
      this.#state = State.SizeLf
      return true
    }
    return false
  }

  /** Trailer lines from i; returns where it stopped, or -1 on an error (in #error). */
  #trailer(buf: Buffer, i: number): number {
    const lf = buf.indexOf(LF, i)
    const end = lf < 0 ? buf.length : lf + 1
    this.#trailerBytes += end - i
    if (this.#trailerBytes > this.#maxTrailerSize) {
      this.#error = CHUNK_ERROR.trailerTooLarge
      return -1
    }
    const part = buf.subarray(i, end)
    const line = this.#line === null ? part : Buffer.concat([this.#line, part])
    if (lf < 0) {
      // a bare CR inside the partial line is caught when it ends; keep a copy, buf is the caller's
      this.#line = Buffer.from(line)
      return end
    }
    this.#line = null
    const eol = line.length - 2
    if (eol < 0 || line[eol] !== CR) {
      this.#error = CHUNK_ERROR.bareLineEnd
      return -1
    }
    if (eol === 0) {
      this.#state = State.Done
      return end
    }
    if (!this.#field(line, eol)) {
      this.#error = CHUNK_ERROR.badTrailer
      return -1
    }
    return end
  }

  /** One trailer field line[0, eol): checked like a header field, kept in trailers. */
  #field(line: Buffer, eol: number): boolean {
    let k = 0
    while (k < eol && TOKEN[line[k]] === 1) k++
    if (k === 0 || k === eol || line[k] !== COLON) return false
    let vs = k + 1
    while (vs < eol && (line[vs] === SP || line[vs] === HTAB)) vs++
    let ve = eol
    while (ve > vs && (line[ve - 1] === SP || line[ve - 1] === HTAB)) ve--
    for (let j = vs; j < ve; j++) if (FIELD_VALUE[line[j]] !== 1) return false
    // framing and connection fields in trailers are refused (llhttp refuses the first two,
    // and takes a (Proxy-)Connection: close there as the end of the connection)
    if (
      (k === 14 && bytesEqualLower(line, 0, 'content-length')) ||
      (k === 17 && bytesEqualLower(line, 0, 'transfer-encoding')) ||
      (k === 10 && bytesEqualLower(line, 0, 'connection')) ||
      (k === 16 && bytesEqualLower(line, 0, 'proxy-connection'))
    )
      return false
    this.trailers.push(latin1(line, 0, k), latin1(line, vs, ve))
    return true
  }

  #fail(i: number, data: Buffer[], reason: string): ChunkResult {
    this.#error = reason
    return { consumed: i, data, done: false, error: reason }
  }
}
