/**
 * gRPC status codes (grpc/doc/statuscodes.md) and what the gates count as a failed call.
 * Pure: header values in, codes and verdicts out.
 */

/** Every gRPC status by its code, in code order (0..16). */
export const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const
export type GrpcCodeName = (typeof GRPC_CODES)[number]

/** the statuses that say the server (not the caller) failed: the default of gates.grpc_failures */
export const DEFAULT_GRPC_FAILURES: readonly GrpcCodeName[] = ['UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS']

export const GRPC_UNAVAILABLE = 14
export const GRPC_DEADLINE_EXCEEDED = 4
export const GRPC_INTERNAL = 13

/** A set of codes as a bit mask (bit n: code n). */
export type GrpcMask = number

/** The mask of a list of names. */
export function grpcMask(names: readonly GrpcCodeName[]): GrpcMask {
  let mask = 0
  for (const name of names) mask |= 1 << GRPC_CODES.indexOf(name)
  return mask
}

/** The code of a status name or number as written in a config (`UNAVAILABLE`, `unavailable`, `14`), or undefined. */
export function grpcCodeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value < GRPC_CODES.length ? value : undefined
  if (typeof value !== 'string') return undefined
  const i = (GRPC_CODES as readonly string[]).indexOf(value.trim().toUpperCase())
  return i >= 0 ? i : undefined
}

/**
 * The code of a grpc-status header value: 0..16 as sent; a value out of range or not a
 * number is UNKNOWN (the gRPC spec's rule for a status the client cannot read); absent, -1.
 */
export function parseGrpcStatus(value: string | string[] | undefined): number {
  if (value === undefined) return -1
  const text = Array.isArray(value) ? value[0] : value
  if (!/^\d{1,2}$/.test(text)) return 2
  const code = Number(text)
  return code < GRPC_CODES.length ? code : 2
}

/** Whether code is in mask; -1 (no status) never is. */
export function isGrpcFailure(code: number, mask: GrpcMask): boolean {
  return code >= 0 && code < 32 && (mask & (1 << code)) !== 0
}

/** Whether a content-type names a gRPC message (application/grpc, application/grpc+proto, ...). */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined || text.length < 16) return false
  if (text.slice(0, 16).toLowerCase() !== 'application/grpc') return false
  const next = text.charCodeAt(16)
  // application/grpc, application/grpc+proto, application/grpc;charset=..., not application/grpc-web
  return Number.isNaN(next) || next === 0x2b || next === 0x3b
}

/** The status a gRPC client gets for one of cutover's own HTTP errors (grpc's http-grpc-status-mapping). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return 13
    case 401:
      return 16
    case 403:
      return 7
    case 404:
      return 12
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_UNAVAILABLE
    default:
      return 2
  }
}
