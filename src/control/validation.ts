/**
 * How the control API checks requests against its route schemas (./schemas.ts): an ajv
 * for JSON Schema 2020-12 that coerces, removes and defaults nothing, and the 400's
 * message naming the field in the words of its schema's description.
 */

import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv'

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

/** The validator of route schemas: JSON Schema 2020-12, nothing coerced, removed or defaulted. */
export function schemaValidator(): Ajv2020 {
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
