/**
 * How the control API checks requests against its route schemas (./schemas.ts): an ajv
 * for JSON Schema 2020-12 that coerces, removes and defaults nothing, and the 400's
 * message naming the field in the words of its schema's description.
 */

import type { ErrorObject, ValidateFunction } from 'ajv'
import type { Ajv2020 } from 'ajv/dist/2020.js'
import type { FastifyServerOptions } from 'fastify'

const { createRequire } = process.getBuiltinModule('node:module')

const require = createRequire(import.meta.url)

/** /steps/0/y -> steps[0].y; the root is named by where it is (body, querystring, params). */
function fieldName(instancePath: string, where: string, child?: string): string {
  let name = ''
  for (const part of instancePath.split('/').slice(1)) name += /^[0-9]+$/.test(part) ? `[${part}]` : name ? `.${part}` : part
  if (child !== undefined) name = name ? `${name}.${child}` : child
  return name || where
}

/** A schema failure as a message naming the field, in the words of its schema's description. */
export function schemaMessage(errors: readonly ErrorObject[], where: string): string {
  const e = errors.find((x) => x.keyword === 'anyOf') ?? errors[0]
  const parent = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown>; anyOf?: Array<{ required?: string[] }> }
  switch (e.keyword) {
    case 'required':
      return `${fieldName(e.instancePath, where, (e.params as { missingProperty: string }).missingProperty)}: required`
    case 'additionalProperties': {
      const known = Object.keys(parent.properties ?? {})
      return `${fieldName(e.instancePath, where, (e.params as { additionalProperty: string }).additionalProperty)}: unknown field${known.length ? ` (expected ${known.join(', ')})` : ' (expected no fields)'}`
    }
    case 'anyOf':
      if (parent.anyOf?.every((a) => a.required)) return `${fieldName(e.instancePath, where)}: expected at least one of ${parent.anyOf.flatMap((a) => a.required ?? []).join(', ')}`
  }
  return `${fieldName(e.instancePath, where)}: ${parent.description ? `expected ${parent.description}` : (e.message ?? 'not valid')}`
}

/**
 * The validator of route schemas: JSON Schema 2020-12, nothing coerced, removed or
 * defaulted. ajv is loaded by the first call (issue 10: a cutover whose control API gets
 * no request with a schema never carries it).
 */
export function schemaValidator(): Ajv2020 {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js')
  return new Ajv2020({ allErrors: false, verbose: true, coerceTypes: false, removeAdditional: false, useDefaults: false, multipleOfPrecision: 9, strict: true, strictRequired: false })
}

/** A compiled check as fastify calls it: false on a failure, whose details are then in `errors`. */
export interface LazyValidator {
  (data: unknown): boolean
  errors?: ErrorObject[] | null
}

/**
 * The check of one route schema, compiled on the route's first request instead of at
 * start: compiling every route's schemas when the listener starts costs ~6 MiB of RSS
 * (issue 10) for routes most runs never call with a body.
 */
export function compileOnFirstUse(compile: () => ValidateFunction): LazyValidator {
  let compiled: ValidateFunction | null = null
  const check: LazyValidator = (data) => {
    compiled ??= compile()
    const ok = compiled(data) as boolean
    check.errors = compiled.errors
    return ok
  }
  return check
}

/** fastify's schema compilers factory (its `schemaController.compilersFactory` option). */
type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>

/**
 * The control API's schema compilers: route checks with ajv, each compiled on its route's
 * first request; fastify's own serializer compiler (fast-json-stringify, with an ajv of
 * its own) loaded only if a route ever declares a response schema. fastify otherwise
 * loads both at start, ~2 MiB of RSS an idle cutover never uses (issue 10).
 */
export function lazyCompilers(): Compilers {
  let ajv: Ajv2020 | null = null
  return {
    // fastify only calls the check and reads its `errors`: the rest of ajv's ValidateFunction is not needed
    buildValidator:
      () =>
      ({ schema }) =>
        compileOnFirstUse(() => (ajv ??= schemaValidator()).compile(schema)) as unknown as ValidateFunction,
    buildSerializer: (externalSchemas, options) => {
      // resolved from fastify's own dependencies: the compiler it would have loaded itself
      const fromFastify = createRequire(require.resolve('fastify'))
      const selector = fromFastify('@fastify/fast-json-stringify-compiler') as () => NonNullable<Compilers['buildSerializer']>
      return selector()(externalSchemas, options)
    },
  }
}
