/**
 * The building blocks of the config schema: each rule checks one value at a key path,
 * reports what is wrong, and returns the converted value (or undefined when invalid).
 * Defaults are written as YAML input and go through the same rule.
 */

import { formatDuration, parseDuration } from './duration.js'
import { keyPath, type Problems } from './problems.js'
import { REPORTED } from './yaml-tree.js'
import { hasAtMostTwoDecimals } from './percent.js'

const { accessSync, constants } = process.getBuiltinModule('node:fs')

export interface Ctx {
  problems: Problems
  /** paths whose value was exactly one `${NAME}`: a numeric string there counts as a number */
  fromEnv: ReadonlySet<string>
}

export type Rule<T = unknown> = (value: unknown, path: string, ctx: Ctx) => T | undefined

export interface Field {
  rule: Rule
  required?: boolean
  /** YAML-level input used when the key is absent */
  default?: unknown
}

/** A JSON Schema fragment (2020-12) describing what a rule accepts; see ./json-schema.ts. */
export type JsonSchema = Record<string, unknown>

const SCHEMAS = new WeakMap<Rule<unknown>, JsonSchema>()
const FIELDS = new WeakMap<Rule<unknown>, Record<string, Field>>()

/** Say what a rule accepts, for the published JSON Schema of the config file (issue 14). */
export function annotate<T>(rule: Rule<T>, schema: JsonSchema): Rule<T> {
  SCHEMAS.set(rule as Rule<unknown>, schema)
  return rule
}

/** What annotate said of rule; undefined when nothing was. */
export function ruleSchema(rule: Rule<unknown>): JsonSchema | undefined {
  return SCHEMAS.get(rule)
}

/** The keys of a rule made by object(), for walking the schema. */
export function objectFields(rule: Rule<unknown>): Readonly<Record<string, Field>> | undefined {
  return FIELDS.get(rule)
}

/** `${NAME}` in a string is replaced before the rules run: such a string may stand for any value. */
export const ENV_STRING: JsonSchema = { type: 'string', pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}' }

/** A schema that also takes a `${NAME}` string. */
function orEnv(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, ENV_STRING] }
}

/** A key of an object: its rule plus whether it is required or what it defaults to. */
export function field(rule: Rule, options: { required?: boolean; default?: unknown } = {}): Field {
  return { rule, ...options }
}

/** A mapping with exactly these keys; an absent or empty key counts as not given. */
export function object(fields: Record<string, Field>, check?: (out: Record<string, unknown>, raw: Record<string, unknown>, path: string, ctx: Ctx) => void): Rule<Record<string, unknown>> {
  const known = Object.keys(fields)
  const rule: Rule<Record<string, unknown>> = (value, path, ctx) => {
    if (!isPlainObject(value)) {
      ctx.problems.add(path, 'expected a mapping of keys')
      return undefined
    }
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(fields, key)) ctx.problems.add(keyPath(path, key), unknownKey(key, known))
    }
    const out: Record<string, unknown> = {}
    for (const key of known) {
      const spec = fields[key]
      const childPath = keyPath(path, key)
      let input = Object.hasOwn(value, key) ? value[key] : undefined
      if (input === REPORTED) continue
      if (input == null) {
        if (spec.required) {
          ctx.problems.add(childPath, 'required')
          continue
        }
        if (spec.default === undefined) continue
        input = spec.default
      }
      const result = spec.rule(input, childPath, ctx)
      if (result !== undefined) out[key] = result
    }
    check?.(out, value, path, ctx)
    return out
  }
  FIELDS.set(rule as Rule<unknown>, fields)
  return annotate(rule, { type: 'object', additionalProperties: false })
}

/** A string, optionally with a minimum length. */
export function string(options: { min?: number } = {}): Rule<string> {
  const min = options.min ?? 1
  return annotate<string>(
    (value, path, ctx) => {
      if (typeof value !== 'string') {
        ctx.problems.add(path, `expected a string, got ${describe(value)}`)
        return undefined
      }
      if (value.length < min) {
        ctx.problems.add(path, min === 1 ? 'must not be empty' : `too short: at least ${min} characters`)
        return undefined
      }
      return value
    },
    { type: 'string', minLength: min },
  )
}

/** One of the listed strings. */
export function oneOf<T extends string>(choices: readonly T[]): Rule<T> {
  return annotate<T>(
    (value, path, ctx) => {
      if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T
      ctx.problems.add(path, `must be one of ${choices.join(', ')}, got ${describe(value)}`)
      return undefined
    },
    orEnv({ enum: [...choices] }),
  )
}

/** true or false (or the strings, when they came from one `${NAME}`). */
export function boolean(): Rule<boolean> {
  return annotate<boolean>(
    (value, path, ctx) => {
      if (typeof value === 'boolean') return value
      if (ctx.fromEnv.has(path) && (value === 'true' || value === 'false')) return value === 'true'
      ctx.problems.add(path, `expected true or false, got ${describe(value)}`)
      return undefined
    },
    orEnv({ type: 'boolean' }),
  )
}

interface NumberRange {
  min?: number
  max?: number
  /** the minimum itself is not allowed */
  above?: number
  integer?: boolean
}

/** A number in a range; `integer` demands a whole one. */
export function number(range: NumberRange = {}): Rule<number> {
  const what = range.integer ? 'an integer' : 'a number'
  const schema: JsonSchema = { type: range.integer ? 'integer' : 'number' }
  if (range.min !== undefined) schema.minimum = range.min
  if (range.max !== undefined) schema.maximum = range.max
  if (range.above !== undefined) schema.exclusiveMinimum = range.above
  return annotate<number>((value, path, ctx) => {
    const n = asNumber(value, path, ctx)
    if (n === undefined || (range.integer && !Number.isInteger(n))) {
      ctx.problems.add(path, `expected ${what}, got ${describe(value)}`)
      return undefined
    }
    const outOfRange = rangeProblem(n, range)
    if (outOfRange !== undefined) {
      ctx.problems.add(path, `${outOfRange}, got ${n}`)
      return undefined
    }
    return n
  }, orEnv(schema))
}

/** A share from 0 to 100 with at most two decimals (33.33 yes, 12.345 no). */
export function percent(): Rule<number> {
  return annotate<number>(
    (value, path, ctx) => {
      const n = asNumber(value, path, ctx)
      if (n === undefined || n < 0 || n > 100 || !hasAtMostTwoDecimals(n)) {
        ctx.problems.add(path, `must be a percentage from 0 to 100 with at most two decimals, got ${describe(value)}`)
        return undefined
      }
      return n
    },
    orEnv({ type: 'number', minimum: 0, maximum: 100, multipleOf: 0.01 }),
  )
}

/** A duration string with a unit, converted to ms, within [min, max]. */
export function duration(range: { min?: number; max?: number } = {}): Rule<number> {
  const min = range.min ?? 0
  const max = range.max ?? MAX_DURATION
  return annotate<number>(
    (value, path, ctx) => {
      if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(value))) {
        ctx.problems.add(path, 'a duration needs a unit, e.g. 2s')
        return undefined
      }
      const ms = parseDuration(value)
      if (ms === undefined) {
        ctx.problems.add(path, `not a duration: ${describe(value)} (write e.g. 250ms, 2s, 5m, 1h)`)
        return undefined
      }
      if (ms < min || ms > max) {
        const bound = ms < min ? (min === 1 ? 'must be more than 0' : `must be at least ${formatDuration(min)}`) : `must be at most ${formatDuration(max)}`
        ctx.problems.add(path, `${bound}, got ${value as string}`)
        return undefined
      }
      return ms
    },
    orEnv({ type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?(ms|s|m|h)\\s*$', description: `a duration with a unit (250ms, 2s, 5m, 1h) from ${formatDuration(min)} to ${formatDuration(max)}` }),
  )
}

/** Longest duration anywhere in the config: a week, well inside what a timer can hold. */
export const MAX_DURATION = 168 * 3_600_000

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }
const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i

/** Bytes of a size: a whole number, or a string such as `10mb` or `1gib`; undefined when invalid. */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = BYTE_SIZE.exec(value.trim())
  if (match === null) return undefined
  const bytes = Number(match[1]) * BYTE_UNITS[(match[2] ?? 'b').toLowerCase()]
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** A size in bytes (number, or `16kb`, `10mb`, `1gib`), at least min. */
export function byteSize(options: { min: number }): Rule<number> {
  return annotate<number>(
    (value, path, ctx) => {
      const bytes = parseByteSize(value)
      if (bytes === undefined) {
        ctx.problems.add(path, `expected a whole number of bytes or a size such as 10mb, got ${describe(value)}`)
        return undefined
      }
      if (bytes < options.min) {
        ctx.problems.add(path, `must be at least ${options.min} bytes, got ${bytes}`)
        return undefined
      }
      return bytes
    },
    orEnv({
      anyOf: [
        { type: 'integer', minimum: options.min },
        { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgG][iI]?[bB])?\\s*$' },
      ],
      description: `bytes, at least ${options.min}: a whole number or a size such as 10mb or 1gib`,
    }),
  )
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** An HTTP header (or cookie) name, lower-cased when `lower`. */
export function token(options: { lower: boolean }): Rule<string> {
  return annotate<string>(
    (value, path, ctx) => {
      if (typeof value !== 'string' || !TOKEN.test(value)) {
        ctx.problems.add(path, `not a valid header or cookie name: ${describe(value)}`)
        return undefined
      }
      return options.lower ? value.toLowerCase() : value
    },
    orEnv({ type: 'string', pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" }),
  )
}

/** A human view of a value for messages: strings quoted, objects named. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return String(value)
}

/** Plain object as produced by the YAML walk (not a list, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function asNumber(value: unknown, path: string, ctx: Ctx): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'string' && ctx.fromEnv.has(path) && /^-?\d+(?:\.\d+)?$/.test(value.trim())) return Number(value)
  return undefined
}

function rangeProblem(n: number, range: NumberRange): string | undefined {
  const { min, max, above } = range
  if ((min !== undefined && n < min) || (max !== undefined && n > max) || (above !== undefined && n <= above)) {
    const low = above !== undefined ? `above ${above}` : min !== undefined ? `at least ${min}` : undefined
    if (low !== undefined && max !== undefined) return `must be ${low} and at most ${max}`
    return low !== undefined ? `must be ${low}` : `must be at most ${max}`
  }
  return undefined
}

function unknownKey(key: string, known: readonly string[]): string {
  const near = known.find((k) => editDistance(k, key) <= 2)
  return near === undefined ? `unknown key (known: ${known.join(', ')})` : `unknown key, did you mean ${near}?`
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** A file that must be readable now (a TLS certificate, key or CA), not at the first handshake. */
export const readableFile: Rule<string> = (value, path, ctx) => {
  const file = string()(value, path, ctx)
  if (file === undefined) return undefined
  try {
    accessSync(file, constants.R_OK)
  } catch (err) {
    ctx.problems.add(path, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    return undefined
  }
  return file
}
