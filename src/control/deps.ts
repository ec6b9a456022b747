/** What the control listener needs from the rest of cutover; the lead wires it in src/app.ts. */

import type { Logger } from 'pino'
import type { StateView } from './api-types.js'
import type { Clock } from '../clock.js'
import type { PoolName } from '../config/types.js'
import type { NodeChangeRequest } from '../state/node-admin.js'
import type { TlsFiles } from '../tls-files.js'
import type { StateController } from '../state/controller.js'
import type { EventLog } from '../state/events.js'

/** The rollout runner as the control API sees it (implemented in src/rollout). */
export interface RolloutControl {
  /** validates steps itself; throws CutoverError CUTOVER_ERR_BAD_REQUEST / _LOCKED / _ROLLOUT_RUNNING */
  start(steps?: unknown, options?: { force?: boolean }): Promise<unknown>
  pause(): Promise<unknown>
  resume(): Promise<unknown>
  promote(): Promise<unknown>
  abort(reason?: string): Promise<unknown>
}

/** Operators' changes to one node (issue 14), implemented by the control plane. */
export interface NodeControl {
  /** throws CutoverError CUTOVER_ERR_NOT_FOUND for an unknown node, _LAST_NODE without force */
  change(pool: PoolName, node: string, req: NodeChangeRequest): Promise<unknown>
}

export interface ControlDeps {
  /** read on every request: a reload may change it */
  token: () => string
  /** the read-only token (control.viewer_token), read on every request; undefined: no viewer role */
  viewerToken?: () => string | undefined
  /** the control listener's certificate and key files (control.tls); read once, at build */
  tls?: () => TlsFiles | undefined
  /** ms a TLS client has to finish its handshake (default CONTROL_HANDSHAKE_MS; tests shorten it) */
  handshakeTimeoutMs?: number
  /** absent: PUT /v1/nodes answers 404 */
  nodes?: NodeControl
  state: StateController
  events: EventLog
  /** the body of GET /v1/state */
  describe: () => StateView
  metrics: () => Promise<{ contentType: string; body: string }>
  readiness: () => { ready: boolean; reason?: string }
  /** absent: the rollout endpoints answer 503 CUTOVER_ERR_ROLLOUT_UNAVAILABLE */
  rollout?: RolloutControl
  /** the body of GET /v1/history (the console's charts); absent: null */
  history?: () => unknown
  /** issue 13: the body of GET /v1/shadow */
  shadow?: () => unknown
  /** pino */
  logger: Logger
  /** called once per failed authentication (a metric) */
  onAuthFailure?: () => void
  /** for throttling the auth-failure log */
  clock: Clock
}
