/**
 * A request's route pattern, the part of a mismatch class that groups requests: the path
 * without its query, each id-like segment (a number, a UUID, a long hex or token with
 * digits) written `:id`, so /users/42/orders and /users/7/orders are one class.
 */

const NUMBER = /^-?\d+(?:\.\d+)?$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const HEX = /^[0-9a-f]{12,}$/i
/** a long token that mixes letters and digits (base64 ids, slugs with numbers) */
const TOKEN_WITH_DIGITS = /^(?=.*\d)[A-Za-z0-9_\-=]{16,}$/

/** Longest pattern kept: a class key is memory held per class. */
export const MAX_PATTERN = 200

/** Whether one path segment looks like an id rather than a route word. */
export function isIdSegment(segment: string): boolean {
  return NUMBER.test(segment) || UUID.test(segment) || HEX.test(segment) || TOKEN_WITH_DIGITS.test(segment)
}

/** The route pattern of a request-target (origin or absolute form): /users/:id/orders. */
export function routePattern(target: string): string {
  let path = target
  if (!path.startsWith('/')) {
    // absolute form: http://host/path; '*' (OPTIONS *) stays as it is
    const scheme = path.indexOf('://')
    if (scheme < 0) return path.slice(0, MAX_PATTERN)
    const slash = path.indexOf('/', scheme + 3)
    path = slash < 0 ? '/' : path.slice(slash)
  }
  const q = path.search(/[?#]/)
  if (q >= 0) path = path.slice(0, q)
  const out = path
    .split('/')
    .map((s) => (s !== '' && isIdSegment(s) ? ':id' : s))
    .join('/')
  return out.length > MAX_PATTERN ? `${out.slice(0, MAX_PATTERN)}…` : out
}
