/**
 * The JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the control API: the server validates
 * every body, query and path with these before a handler runs (./server.ts), and
 * /v1/openapi.json is generated from the same objects (./openapi.ts), so the document
 * cannot describe another API than the one served. A property's `description` is also the
 * message of a 400 about it: `y: expected a number from 0 to 100 with at most two decimals`.
 * The answers' schemas document what the handlers send; tests hold the answers to them.
 */

import { MAX_EVENTS_LIMIT, MAX_REASON_LENGTH } from './bodies.js'
import { MAX_NODE_WEIGHT } from '../state/node-admin.js'

export type JsonSchema = Record<string, unknown>

const NO_BODY_DESCRIPTION = 'no body, or an empty JSON object'

/** A body that may be absent (no body validates as null). */
function optionalBody(properties: Record<string, JsonSchema>): JsonSchema {
  return { type: ['object', 'null'], description: 'a JSON object', properties, additionalProperties: false }
}

const reason: JsonSchema = { type: 'string', minLength: 1, maxLength: MAX_REASON_LENGTH, pattern: '\\S', description: `a string of 1 to ${MAX_REASON_LENGTH} characters` }
const percent: JsonSchema = { type: 'number', minimum: 0, maximum: 100, multipleOf: 0.01, description: 'a number from 0 to 100 with at most two decimals' }
const wholeNumberText = (min: number, max: number): JsonSchema => ({ type: 'string', pattern: '^[0-9]{1,16}$', description: `a whole number from ${min} to ${max}` })

export const bodies = {
  split: { type: 'object', description: 'a JSON object', properties: { y: percent }, required: ['y'], additionalProperties: false },
  reason: optionalBody({ reason }),
  empty: { type: ['object', 'null'], description: NO_BODY_DESCRIPTION, properties: {}, additionalProperties: false },
  rollout: optionalBody({
    steps: {
      type: 'array',
      description: 'an array',
      // each step is checked by the rollout runner, whose messages name the step
      items: { type: 'object', description: 'an object { y, hold }', properties: { y: { description: 'share of y, 0 to 100' }, hold: { description: 'a duration such as 5m' } } },
    },
    // issue 13: start though x and y serve different configs
    force: { type: 'boolean', description: 'true or false' },
  }),
  node: {
    type: 'object',
    description: 'a JSON object',
    properties: {
      admin: { enum: ['ready', 'drain', 'maint'], description: 'one of ready, drain, maint' },
      weight: {
        anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: MAX_NODE_WEIGHT }, { type: 'null' }],
        description: `a number above 0 and at most ${MAX_NODE_WEIGHT}, or null for the config's weight`,
      },
      force: { type: 'boolean', description: 'true or false' },
    },
    anyOf: [{ required: ['admin'] }, { required: ['weight'] }],
    additionalProperties: false,
  },
} satisfies Record<string, JsonSchema>

export const queries = {
  events: {
    type: 'object',
    properties: { since: wholeNumberText(0, Number.MAX_SAFE_INTEGER), limit: wholeNumberText(1, MAX_EVENTS_LIMIT) },
    additionalProperties: false,
  },
} satisfies Record<string, JsonSchema>

export const params = {
  node: {
    type: 'object',
    properties: {
      pool: { enum: ['x', 'y'], description: 'x or y' },
      node: { type: 'string', minLength: 1, maxLength: 256, description: 'the node name as GET /v1/state shows it' },
    },
    required: ['pool', 'node'],
    additionalProperties: false,
  },
} satisfies Record<string, JsonSchema>

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] })

const nodeView: JsonSchema = {
  type: 'object',
  required: ['url', 'name', 'healthy', 'ejected', 'inflight', 'admin', 'weight', 'weight_source'],
  properties: {
    url: { type: 'string' },
    name: { type: 'string' },
    healthy: { type: ['boolean', 'null'] },
    ejected: { type: 'boolean' },
    ejected_until: { type: ['string', 'null'] },
    h2_ejected: { type: 'boolean' },
    h2_ejected_until: { type: ['string', 'null'] },
    last_probe: nullable({ type: 'object' }),
    last_failure: nullable({
      type: 'object',
      required: ['kind', 'why', 'at'],
      properties: { kind: { enum: ['connect', 'reset', 'timeout', 'protocol'] }, why: { type: 'string' }, at: { type: 'string' } },
    }),
    inflight: { type: 'integer', minimum: 0 },
    admin: { enum: ['ready', 'drain', 'maint'] },
    weight: { type: 'number', exclusiveMinimum: 0 },
    weight_source: { enum: ['config', 'runtime'] },
    config_weight: { type: 'number', exclusiveMinimum: 0 },
    config_hash: { type: ['string', 'null'] },
    config_hash_error: { type: ['string', 'null'] },
  },
}

const windowView: JsonSchema = {
  type: 'object',
  required: ['requests', 'errors', 'error_rate', 'p99_ms'],
  properties: { requests: { type: 'number' }, errors: { type: 'number' }, error_rate: { type: 'number' }, p99_ms: { type: 'number' } },
}

export const answers = {
  state: {
    type: 'object',
    description: 'the live state: split, lock, rollout, nodes, gate figures',
    required: ['split', 'locked', 'lock_reason', 'rollout', 'pools', 'gates'],
    properties: {
      split: { type: 'object', required: ['x', 'y'], properties: { x: percent, y: percent } },
      locked: { type: 'boolean' },
      lock_reason: { type: ['string', 'null'] },
      rollout: nullable({ type: 'object', required: ['steps', 'step', 'status'], properties: { step: { type: 'integer' }, status: { enum: ['running', 'paused'] } } }),
      pools: {
        type: 'object',
        required: ['x', 'y'],
        properties: {
          x: { type: 'object', required: ['nodes'], properties: { nodes: { type: 'array', items: nodeView } } },
          y: { type: 'object', required: ['nodes'], properties: { nodes: { type: 'array', items: nodeView } } },
        },
      },
      gates: { type: 'object', required: ['x', 'y'], properties: { x: windowView, y: windowView } },
    },
  },
  events: {
    type: 'array',
    description: 'the audit log, oldest first; events before a restart included',
    items: {
      type: 'object',
      required: ['id', 'at', 'type'],
      properties: {
        id: { type: 'integer', minimum: 1 },
        at: { type: 'string' },
        type: { type: 'string' },
        cause: { type: 'string' },
        role: { enum: ['operator', 'viewer'], description: 'who acted, on events caused through the API' },
        remote: { type: 'string', description: "the client's address, on events caused through the API" },
        text: { type: 'string' },
      },
    },
  },
  history: { type: ['object', 'null'], description: "the console's 15 minutes of per-pool figures" },
  shadow: {
    type: 'object',
    description: "issue 13: y's answers to copies of x's requests compared with x's: totals, the top mismatch classes with redacted samples",
    required: ['enabled', 'share', 'totals', 'mismatch_rate', 'classes', 'other_mismatches'],
    properties: {
      enabled: { type: 'boolean' },
      share: { type: 'number' },
      totals: { type: 'object', required: ['match', 'mismatch', 'error', 'dropped'] },
      dropped_reasons: {
        type: 'object',
        description: 'the dropped total by reason: busy, no_y_node, timeout, x_aborted, body_too_large, x_failed (x gave no answer: cutover answered 502, 503 or 504 itself)',
      },
      mismatch_rate: { type: ['number', 'null'] },
      classes: { type: 'array', items: { type: 'object', required: ['method', 'route', 'x_status', 'y_status', 'count', 'differences', 'samples'] } },
      other_mismatches: { type: 'integer', minimum: 0 },
    },
  },
  error: {
    type: 'object',
    required: ['error', 'code'],
    properties: { error: { type: 'string' }, code: { type: 'string', pattern: '^CUTOVER_ERR_[A-Z_]+$' } },
  },
  health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
  ready: { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' }, reason: { type: 'string' } } },
  metrics: { type: 'string', description: 'Prometheus text format' },
  openapi: { type: 'object', description: 'this document', required: ['openapi'], properties: { openapi: { const: '3.1.0' } } },
} satisfies Record<string, JsonSchema>
