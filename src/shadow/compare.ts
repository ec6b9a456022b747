/**
 * The comparison of y's answer with the one the client got from x: status, the headers
 * not ignored, and the body (a hash; a JSON body within the size limit structurally, with
 * configured fields ignored). Pure: answers in, differences out.
 *
 * Two JSON bodies of 256 KiB take a few ms to parse and walk (5-20 ms measured on a shared
 * 2-core machine), on the data plane's event loop: so the comparison is a sequence of small
 * steps (compareSteps), run to its end at once by compareAnswers, or a few at a time by
 * Judge, which gives the event loop back (setImmediate) once a turn has used TURN_MS.
 * Either way the result is the same, exactly.
 */

import { namedHops } from '../forwarding/headers.js'

export interface ShadowAnswer {
  status: number
  /** flat [name, value, ...] as received, names in any case */
  headers: readonly string[]
  /** hex digest of the whole body */
  bodyHash: string
  bodyLength: number
  /** the body's bytes when it is JSON and at most json_max long; undefined otherwise */
  json?: Buffer
  /**
   * the body's bytes when it is not JSON, has a Content-Encoding of gzip, deflate or br, and
   * is at most json_max long: compared decoded (up to json_max decoded); undefined otherwise
   */
  coded?: Buffer
}

export interface CompareOptions {
  /** lower-case header names left out of the comparison */
  ignoreHeaders: ReadonlySet<string>
  /** JSON fields left out: a bare name anywhere, or a dotted path from the root (meta.at) */
  ignoreFields: readonly string[]
  /** shadow.json_max: a compressed JSON body is compared structurally up to this size decoded (default 256 KiB) */
  jsonMax?: number
  /** answers to HEAD: no body, so the Content-Length each declares is compared where both declare one */
  head?: boolean
}

export interface Comparison {
  match: boolean
  /** what differs, short and free of values: `status 200 -> 500`, `header etag`, `body field data.name` */
  differences: string[]
}

/** a difference is cut past this many characters (the mismatch classes keep them) */
const MAX_DIFFERENCE_CHARS = 200

/** Differences listed at most; the rest are counted in the last entry. */
const MAX_DIFFERENCES = 8

/** Compare y's answer with x's, at once. */
export function compareAnswers(x: ShadowAnswer, y: ShadowAnswer, options: CompareOptions): Comparison {
  const steps = compareSteps(x, y, options)
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
  }
}

/**
 * Compare y's answer with x's in steps: each yield is a point where the work may stop for
 * a turn of the event loop. A step is at most one native call on one body (its decoding,
 * one look for long numbers, its JSON.parse: about 1 ms for 256 KiB), STEP_NODES values
 * of the walk, or STEP_CHARS characters of the scan for numbers JSON.parse would round.
 */
export function* compareSteps(x: ShadowAnswer, y: ShadowAnswer, options: CompareOptions): Generator<void, Comparison, void> {
  const differences: string[] = []
  if (x.status !== y.status) differences.push(`status ${x.status} -> ${y.status}`)
  compareHeaders(x.headers, y.headers, options.ignoreHeaders, differences)
  if (options.head === true) {
    const a = headerValue(x.headers, 'content-length')
    const b = headerValue(y.headers, 'content-length')
    if (a !== undefined && b !== undefined && a.trim() !== b.trim()) differences.push('header content-length')
  }
  if (x.bodyHash !== y.bodyHash) {
    if (x.json !== undefined && y.json !== undefined) {
      const jsonMax = options.jsonMax ?? DEFAULT_JSON_MAX
      yield
      const a = yield* parseJson(decoded(x.json, x.headers, jsonMax))
      yield
      const b = a === INVALID ? INVALID : yield* parseJson(decoded(y.json, y.headers, jsonMax))
      if (a === INVALID || b === INVALID) differences.push('body')
      else yield* jsonDifferenceSteps(a, b, '', options.ignoreFields, differences)
    } else if (x.coded !== undefined && y.coded !== undefined) {
      // the same payload compressed to other bytes is the same body
      const jsonMax = options.jsonMax ?? DEFAULT_JSON_MAX
      yield
      const a = decoded(x.coded, x.headers, jsonMax)
      yield
      const b = a === undefined ? undefined : decoded(y.coded, y.headers, jsonMax)
      if (a === undefined || b === undefined || !a.equals(b)) differences.push('body')
    } else {
      differences.push('body')
    }
  }
  if (differences.length > MAX_DIFFERENCES) {
    const more = differences.length - MAX_DIFFERENCES
    differences.length = MAX_DIFFERENCES
    differences.push(`and ${more} more`)
  }
  // a header's name comes from x or y (up to a 64 KiB head): the classes keep what it says
  for (let i = 0; i < differences.length; i++) if (differences[i].length > MAX_DIFFERENCE_CHARS) differences[i] = `${differences[i].slice(0, MAX_DIFFERENCE_CHARS)}…`
  return { match: differences.length === 0, differences }
}

/**
 * Headers of the connection or the framing, never compared whatever shadow.ignore_headers
 * says: x's answer and y's come over different connections (y's over the copies' own
 * client; x's to an h2 client without any, which never gets Trailer either), and the bodies
 * are compared themselves.
 */
const NEVER_COMPARED: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'trailer'])

/** Header values by lower-case name, repeats joined as one list. */
function headerMap(flat: readonly string[], ignore: ReadonlySet<string>, hop: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase()
    if (ignore.has(name) || NEVER_COMPARED.has(name) || hop.has(name)) continue
    const prev = out.get(name)
    out.set(name, prev === undefined ? flat[i + 1] : `${prev}, ${flat[i + 1]}`)
  }
  return out
}

function compareHeaders(x: readonly string[], y: readonly string[], ignore: ReadonlySet<string>, out: string[]): void {
  // the fields either answer's Connection header names: hop-by-hop for its connection
  const hop = new Set<string>([...(namedHops(x) ?? []), ...(namedHops(y) ?? [])])
  const a = headerMap(x, ignore, hop)
  const b = headerMap(y, ignore, hop)
  for (const [name, value] of a) {
    const other = b.get(name)
    if (other === undefined) out.push(`header ${name} missing on y`)
    else if (other !== value) out.push(`header ${name}`)
  }
  for (const name of b.keys()) if (!a.has(name)) out.push(`header ${name} only on y`)
}

/** The first value of a header (lower-case name) in a flat list. */
function headerValue(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i].length === name.length && flat[i].toLowerCase() === name) return flat[i + 1]
  return undefined
}

const INVALID = Symbol('invalid JSON')

const DEFAULT_JSON_MAX = 256 * 1024

const zlib = process.getBuiltinModule('node:zlib')

/**
 * A JSON body's bytes as the JSON they hold: decoded when its Content-Encoding is one
 * coding of gzip, deflate or br (x and y may compress the same JSON to other bytes, and
 * fields to ignore are inside), at most jsonMax of it (a small body may decode to a huge
 * one); undefined when it cannot be (the bytes decide then).
 */
function decoded(json: Buffer, headers: readonly string[], jsonMax: number): Buffer | undefined {
  let coding: string | undefined
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i].length !== 16 || headers[i].toLowerCase() !== 'content-encoding') continue
    if (coding !== undefined) return undefined
    coding = headers[i + 1].trim().toLowerCase()
  }
  if (coding === undefined || coding === '' || coding === 'identity') return json
  const limit = { maxOutputLength: Math.max(1, jsonMax) }
  try {
    if (coding === 'gzip' || coding === 'x-gzip') return zlib.gunzipSync(json, limit)
    if (coding === 'deflate') return zlib.inflateSync(json, limit)
    if (coding === 'br') return zlib.brotliDecompressSync(json, limit)
  } catch {
    // not what it says, or longer than jsonMax decoded
  }
  return undefined
}

function* parseJson(bytes: Buffer | undefined): Generator<void, unknown, void> {
  if (bytes === undefined) return INVALID
  const text = bytes.toString('utf8')
  yield
  const marked = yield* preciseNumbers(text)
  yield
  try {
    return JSON.parse(marked)
  } catch {
    return INVALID
  }
}

/** characters of the number scan between two yields */
const STEP_CHARS = 64 * 1024
/** values of the structural walk between two yields */
const STEP_NODES = 1024

/**
 * Marks a number JSON.parse would round (as a string no body can hold: a NUL and a
 * per-process nonce), so that two such numbers are compared as written: 12345678901234567890
 * and 12345678901234567891 are one double, but two ids to a client that reads 64-bit integers.
 */
const INEXACT = `\u0000${process.getBuiltinModule('node:crypto').randomBytes(8).toString('hex')}:`
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
/** what a rounded number needs somewhere: 16 digits (a dot among them), or a 3-digit exponent */
const MAYBE_INEXACT = /[0-9.]{16}|[eE][+-]?[0-9]{3}/
/** the smallest normal double: below it, fewer digits survive */
const MIN_NORMAL = 2.2250738585072014e-308

/** Whether JSON.parse gives this number token's value exactly (or, for a fraction, without two tokens ever meeting). */
function exact(token: string): boolean {
  const v = Number(token)
  if (!Number.isFinite(v)) return false
  const e = token.search(/[.eE]/)
  // an integer: exact when it comes back the same (at most 309 digits here: Infinity past that)
  if (e < 0) return Number.isSafeInteger(v) || BigInt(token) === BigInt(v)
  const exp = token.search(/[eE]/)
  const digits = (exp < 0 ? token : token.slice(0, exp)).replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '')
  if (digits === '') return true
  // up to 15 significant digits a normal double tells apart (DBL_DIG)
  return Math.abs(v) >= MIN_NORMAL && digits.length <= 15
}

/** The JSON text with every number JSON.parse would round written as a marked string. */
function* preciseNumbers(text: string): Generator<void, string, void> {
  // the usual body has no number JSON.parse would round: one native look instead of a walk
  if (!MAYBE_INEXACT.test(text)) return text
  yield
  let parts: string[] | null = null
  let from = 0
  let i = 0
  let pause = STEP_CHARS
  while (i < text.length) {
    if (i >= pause) {
      pause = i + STEP_CHARS
      yield
    }
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // a string: to its closing quote, escapes skipped
      i++
      while (i < text.length) {
        const d = text.charCodeAt(i)
        if (d === 0x5c) i += 2
        else {
          i++
          if (d === 0x22) break
        }
      }
      continue
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) {
      i++
      continue
    }
    NUMBER.lastIndex = i
    const m = NUMBER.exec(text)
    if (m === null) {
      // not JSON; JSON.parse says so
      i++
      continue
    }
    const token = m[0]
    if (!exact(token)) {
      parts ??= []
      parts.push(text.slice(from, i), JSON.stringify(INEXACT + token))
      from = i + token.length
    }
    i += token.length
  }
  if (parts === null) return text
  parts.push(text.slice(from))
  return parts.join('')
}

function ignored(path: string, key: string, fields: readonly string[]): boolean {
  return fields.includes(key) || fields.includes(path)
}

/** a path in a difference is cut to about this many characters (a hostile body may nest without end) */
const MAX_PATH = 200

/** parent's path with one more step, cut once it is long: past that, every step shares the cut one */
function childPath(parent: string, step: string): string {
  if (parent.length >= MAX_PATH) return parent
  const path = parent + step
  return path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path
}

/** one step of the walk: two values to compare at a path, or a difference to note in its turn */
type Step = { a: unknown; b: unknown; path: string; note?: undefined } | { note: string }

/**
 * Structural differences of two JSON values, named by dotted path; ignored fields skipped.
 * A walk with its own stack, not recursion: JSON.parse takes nesting as deep as the body
 * is long (json_max), which would overflow the call stack; the differences come in the
 * order a depth-first recursion would give them.
 */
export function jsonDifferences(a0: unknown, b0: unknown, path0: string, fields: readonly string[], out: string[]): void {
  const steps = jsonDifferenceSteps(a0, b0, path0, fields, out)
  while (steps.next().done !== true);
}

/** jsonDifferences in steps of STEP_NODES values. */
function* jsonDifferenceSteps(a0: unknown, b0: unknown, path0: string, fields: readonly string[], out: string[]): Generator<void, void, void> {
  const stack: Step[] = [{ a: a0, b: b0, path: path0 }]
  let budget = STEP_NODES
  while (stack.length > 0 && out.length <= MAX_DIFFERENCES) {
    if (--budget <= 0) {
      budget = STEP_NODES
      yield
    }
    const step = stack.pop()!
    if (step.note !== undefined) {
      out.push(step.note)
      continue
    }
    const { a, b, path } = step
    const at = path === '' ? '(root)' : path
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!Array.isArray(a) || !Array.isArray(b)) out.push(`body field ${at} type`)
      else if (a.length !== b.length) out.push(`body field ${at} length`)
      else {
        for (let i = a.length - 1; i >= 0; i--) stack.push({ a: a[i], b: b[i], path: childPath(path, `[${i}]`) })
        budget -= a.length
      }
      continue
    }
    if (isObject(a) && isObject(b)) {
      const steps: Step[] = []
      for (const key of Object.keys(a)) {
        const child = path === '' ? childPath('', key) : childPath(path, `.${key}`)
        if (ignored(child, key, fields)) continue
        if (!Object.hasOwn(b, key)) steps.push({ note: `body field ${child} missing on y` })
        else steps.push({ a: a[key], b: b[key], path: child })
      }
      for (const key of Object.keys(b)) {
        const child = path === '' ? childPath('', key) : childPath(path, `.${key}`)
        if (!Object.hasOwn(a, key) && !ignored(child, key, fields)) steps.push({ note: `body field ${child} only on y` })
      }
      for (let i = steps.length - 1; i >= 0; i--) stack.push(steps[i])
      // an object's keys are looked at in this step: they count
      budget -= steps.length
      continue
    }
    if (!Object.is(a, b)) out.push(`body field ${at}`)
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
