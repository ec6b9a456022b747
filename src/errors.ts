/**
 * Every error cutover raises on purpose, in one registry: a literal code, an HTTP status
 * and an optional cause. Tests assert on `code`, never on message text.
 */

export const ERRORS = {
  CUTOVER_ERR_CONFIG_INVALID: 500,
  CUTOVER_ERR_BAD_REQUEST: 400,
  CUTOVER_ERR_UNAUTHORIZED: 401,
  /** the viewer token may read, not change (issue 14) */
  CUTOVER_ERR_FORBIDDEN: 403,
  CUTOVER_ERR_NOT_FOUND: 404,
  CUTOVER_ERR_METHOD_NOT_ALLOWED: 405,
  CUTOVER_ERR_LOCKED: 409,
  CUTOVER_ERR_ROLLOUT_RUNNING: 409,
  CUTOVER_ERR_ROLLOUT_STATE: 409,
  /** the last usable node of a pool with a share above 0 would leave traffic; needs force (issue 14) */
  CUTOVER_ERR_LAST_NODE: 409,
  CUTOVER_ERR_BODY_TOO_LARGE: 413,
  CUTOVER_ERR_STATE_WRITE: 503,
  /** fleet: another replica changed the shared state first; nothing changed here, read and retry */
  CUTOVER_ERR_STATE_CONFLICT: 409,
  /** fleet: the shared state store (etcd) cannot be reached; nothing changed */
  CUTOVER_ERR_STATE_BACKEND_DOWN: 503,
  /** no usable node in the picked pool or the other (proxy answer) */
  CUTOVER_ERR_NO_NODE: 503,
  /** the last attempt failed: connect, reset or protocol (proxy answer) */
  CUTOVER_ERR_UPSTREAM: 502,
  /** a node's TLS certificate is not trusted or not for its address (h2:// nodes; see NODE_EXTRA_CA_CERTS) */
  CUTOVER_ERR_UPSTREAM_TLS: 502,
  /** the node's response head did not arrive within request_timeout (proxy answer) */
  CUTOVER_ERR_UPSTREAM_TIMEOUT: 504,
  /** shed at proxy.max_inflight without touching a node (proxy answer) */
  CUTOVER_ERR_OVERLOADED: 503,
  /** a client's request head above proxy.max_header_size (proxy answer) */
  CUTOVER_ERR_HEAD_TOO_LARGE: 431,
  /** a client's request head not received within header_timeout (proxy answer) */
  CUTOVER_ERR_HEAD_TIMEOUT: 408,
  /** a client's request body stopped arriving for idle_timeout (proxy answer) */
  CUTOVER_ERR_BODY_TIMEOUT: 408,
  CUTOVER_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  CUTOVER_ERR_ROLLOUT_UNAVAILABLE: 503,
  /** a bug: an error nobody raised on purpose */
  CUTOVER_ERR_INTERNAL: 500,
  /** a bad command-line flag or value (exit code 2) */
  CUTOVER_ERR_USAGE: 400,
  /** ctl: the control API could not be reached or refused the request */
  CUTOVER_ERR_CONTROL_API: 502,
  /** a listener could not bind: the port is taken or not allowed */
  CUTOVER_ERR_LISTEN: 500,
} as const

export type ErrorCode = keyof typeof ERRORS

export class CutoverError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CutoverError'
    this.code = code
    this.status = ERRORS[code]
  }
}

export function isCutoverError(err: unknown, code?: ErrorCode): err is CutoverError {
  return err instanceof CutoverError && (code === undefined || err.code === code)
}
