/**
 * The JSON Schema of the config file (issue 14), generated from the rules the loader runs
 * (./schema.ts): every object() rule gives its keys, required ones and defaults, and the
 * rule builders of ./rules.ts say what they accept. The few hand-written rules say it
 * here, by rule or by key path. Published as config/cutover.schema.json for editors
 * (`# yaml-language-server: $schema=...`); a test keeps the file equal to this output and
 * runs both on the same good and bad configs, so they cannot drift.
 *
 * What a schema cannot say stays the loader's: cross-key rules (timeout <= interval, the
 * same node twice), readable files, `${NAME}` substitution. A schema that passes is
 * a necessary, not a sufficient, condition: `cutover check` has the last word.
 */

import { listen, node, httpUrl } from './addresses.js'
import { rolloutSteps } from './rollout-steps.js'
import { ENV_STRING, objectFields, ruleSchema, type Field, type JsonSchema, type Rule } from './rules.js'
import { configSchema } from './schema.js'

const file: JsonSchema = { type: 'string', minLength: 1, description: 'a readable file' }
const hostPort: JsonSchema = { anyOf: [{ type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s]+):[0-9]{1,5}$', description: 'HOST:PORT, e.g. 127.0.0.1:9901' }, ENV_STRING] }
const url: JsonSchema = { type: 'string', pattern: '^https?://', description: 'an http:// or https:// URL' }
const nodeEntry: JsonSchema = {
  anyOf: [
    url,
    {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        url,
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,62}$' },
        weight: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 1 },
        h2: { type: 'string', pattern: '^h2c?://', description: "the node's HTTP/2 listener: h2c://host:port or h2://host:port" },
      },
    },
  ],
}
const pool: JsonSchema = { type: 'object', required: ['nodes'], additionalProperties: false, properties: { nodes: { type: 'array', items: nodeEntry } } }

/** Hand-written rules, by the rule itself (used under several keys). */
const BY_RULE = new Map<Rule<unknown>, JsonSchema>([
  [listen as Rule<unknown>, hostPort],
  [node as Rule<unknown>, nodeEntry],
  [httpUrl as Rule<unknown>, url],
  [
    rolloutSteps as Rule<unknown>,
    {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['y'],
        additionalProperties: false,
        properties: { y: { type: 'number', minimum: 0, maximum: 100, multipleOf: 0.01 }, hold: { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?(ms|s|m|h)\\s*$' } },
      },
    },
  ],
])

/** Hand-written rules private to their module, by key path. */
const BY_PATH: Record<string, JsonSchema> = {
  'proxy.workers': { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }, ENV_STRING], default: 1 },
  'proxy.tls.cert': file,
  'proxy.tls.key': file,
  'control.token_file': file,
  'control.viewer_token_file': file,
  'control.tls.cert': file,
  'control.tls.key': file,
  'state.etcd.endpoints': { type: 'array', minItems: 1, items: { anyOf: [url, ENV_STRING] } },
  'state.etcd.prefix': { type: 'string', pattern: '^(/[A-Za-z0-9._-]+)+$' },
  'state.etcd.tls.ca': file,
  'state.etcd.tls.cert': file,
  'state.etcd.tls.key': file,
  'state.replica_id': { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  pools: { type: 'object', required: ['x', 'y'], additionalProperties: false, properties: { x: pool, y: pool } },
  'split.sticky.ip': { const: true },
  'gates.risk': { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 0.5 },
  'drift.tls.ca': file,
  'drift.path': { type: 'string', pattern: '^/', default: '/status' },
  'drift.x.path': { type: 'string', pattern: '^/' },
  'drift.y.path': { type: 'string', pattern: '^/' },
  'shadow.methods': { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Z]+$' }, default: ['GET', 'HEAD', 'OPTIONS'] },
  'shadow.ignore_headers': { type: 'array', items: { type: 'string', pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" } },
  'shadow.ignore_fields': { type: 'array', items: { type: 'string', minLength: 1 } },
  'shadow.redact_headers': { type: 'array', items: { type: 'string', pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" } },
  'analysis.queries': {
    type: 'array',
    items: {
      type: 'object',
      required: ['name', 'query'],
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1 }, query: { type: 'string', minLength: 1 }, max: { type: 'number' }, min: { type: 'number' } },
      anyOf: [{ required: ['max'] }, { required: ['min'] }],
    },
  },
  'gates.grpc_failures': { type: 'array', items: { type: 'string', pattern: '^[A-Z_]+$' }, description: 'gRPC status names, e.g. UNAVAILABLE' },
}

/** Further constraints of an object the loader checks in code. */
const EXTRA: Record<string, JsonSchema> = {
  control: { anyOf: [{ required: ['token'] }, { required: ['token_file'] }] },
  'split.sticky': { minProperties: 1, maxProperties: 1 },
}

export interface GeneratedSchema {
  schema: JsonSchema
  /** key paths whose rule says nothing and has no entry here: each must get one */
  unknown: string[]
}

function orNull(s: JsonSchema): JsonSchema {
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'] }
  if (Array.isArray(s.anyOf)) return { ...s, anyOf: [...s.anyOf, { type: 'null' }] }
  return { anyOf: [s, { type: 'null' }] }
}

function walk(rule: Rule<unknown>, path: string, unknown: string[]): JsonSchema {
  const fields = objectFields(rule)
  if (fields) {
    const properties: Record<string, JsonSchema> = {}
    const required: string[] = []
    for (const [key, f] of Object.entries(fields) as Array<[string, Field]>) {
      const at = path ? `${path}.${key}` : key
      // an absent or empty key counts as not given: `events:` with nothing under it is fine
      const s = f.required ? { ...walk(f.rule, at, unknown) } : orNull(walk(f.rule, at, unknown))
      if (f.default !== undefined && s.default === undefined && !(typeof f.default === 'object' && f.default !== null)) s.default = f.default
      properties[key] = s
      if (f.required) required.push(key)
    }
    return { type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}), ...EXTRA[path] }
  }
  const s = BY_PATH[path] ?? BY_RULE.get(rule) ?? ruleSchema(rule)
  if (s) return s
  unknown.push(path)
  return {}
}

/** The config file's JSON Schema (2020-12), and the keys nothing describes. */
export function generateConfigSchema(): GeneratedSchema {
  const unknown: string[] = []
  const body = walk(configSchema as Rule<unknown>, '', unknown)
  return {
    schema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'cutover configuration (cutover.yaml)',
      description:
        "Generated from the loader's rules (src/config/json-schema.ts). `cutover check --config FILE` has the last word: cross-key rules, readable files and ${NAME} values are checked there.",
      ...body,
    },
    unknown,
  }
}

/** The published file's text. */
export function configSchemaText(): string {
  return `${JSON.stringify(generateConfigSchema().schema, null, 2)}\n`
}
