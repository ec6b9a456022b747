/**
 * GET /v1/openapi.json (issue 14): the OpenAPI 3.1 document of the control listener,
 * generated from the route table the server registers (./server.ts) with the schemas it
 * validates with (./schemas.ts). Nothing here is written by hand per route.
 */

import { answers, type JsonSchema } from './schemas.js'

export interface RouteSchema {
  body?: JsonSchema
  querystring?: JsonSchema
  params?: JsonSchema
}

/** What the document needs of one route. */
export interface DocumentedRoute {
  method: 'GET' | 'PUT' | 'POST'
  /** fastify's form: /v1/nodes/:pool/:node */
  url: string
  summary: string
  auth: boolean
  /** changes something: the operator token only */
  mutates: boolean
  schema?: RouteSchema
  /** the success answer: status, schema, content type */
  ok: { status: number; schema: JsonSchema; type?: string }
  /** further answers a client must expect, by status */
  errors?: readonly number[]
}

const ERROR_TEXT: Record<number, string> = {
  400: 'a body, query or path that is not valid; the message names the field',
  401: 'no token, or not a token of this cutover',
  403: 'the viewer token may read, not change',
  404: 'no such node',
  409: 'refused in the current state (locked, a rollout running, the last usable node)',
  413: 'body above 64 KiB',
  415: 'not application/json',
  503: 'not ready, or the state could not be written (nothing changed)',
}

/** /v1/nodes/:pool/:node -> /v1/nodes/{pool}/{node} */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, '{$1}')
}

function jsonContent(schema: JsonSchema, type = 'application/json'): Record<string, unknown> {
  return { [type]: { schema } }
}

function parametersOf(schema: RouteSchema | undefined): unknown[] {
  const out: unknown[] = []
  for (const [where, part] of [
    ['path', schema?.params],
    ['query', schema?.querystring],
  ] as const) {
    if (!part) continue
    const props = (part.properties ?? {}) as Record<string, JsonSchema>
    const required = new Set((part.required ?? []) as string[])
    for (const [name, s] of Object.entries(props)) {
      out.push({ name, in: where, required: where === 'path' || required.has(name), description: s.description, schema: s })
    }
  }
  return out
}

/** The OpenAPI 3.1 document of these routes. */
export function buildOpenApi(routes: readonly DocumentedRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const responses: Record<string, unknown> = {
      [String(r.ok.status)]: { description: 'success', content: jsonContent(r.ok.schema, r.ok.type) },
    }
    const errors = new Set<number>(r.errors ?? [])
    if (r.auth) errors.add(401)
    if (r.mutates) errors.add(403)
    if (r.schema) errors.add(400)
    for (const status of [...errors].sort()) responses[String(status)] = { description: ERROR_TEXT[status] ?? 'error', content: jsonContent(answers.error) }
    const operation: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${openApiPath(r.url)
        .replace(/[{}]/g, '')
        .replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: r.summary,
      security: r.auth ? [{ bearer: [] }] : [],
      responses,
    }
    if (r.auth) operation['x-cutover-role'] = r.mutates ? 'operator' : 'viewer'
    const parameters = parametersOf(r.schema)
    if (parameters.length) operation.parameters = parameters
    if (r.schema?.body) {
      const body = r.schema.body
      const optional = Array.isArray(body.type) && (body.type as string[]).includes('null')
      operation.requestBody = { required: !optional, content: jsonContent(body) }
    }
    paths[openApiPath(r.url)] ??= {}
    paths[openApiPath(r.url)][r.method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'cutover control API',
      version,
      description:
        'The control listener of cutover (SPEC section 3). /v1 wants `Authorization: Bearer <token>`: the operator token (control.token) may do everything, the viewer token (control.viewer_token) only what `x-cutover-role: viewer` marks.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  }
}
