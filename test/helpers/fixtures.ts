/** Typed fixtures shared by unit tests: config sections and API views with the real defaults. */

import type { ActiveHealthConfig, Config } from '../../src/config/types.js'
import type { NodeView } from '../../src/control/api-types.js'
import { DEFAULT_GRPC_FAILURES } from '../../src/h2/grpc-status.js'
import { MINIMAL, valid } from '../config/fixtures.js'

/** A minimal config as the loader fills it in: every default, from the schema itself. */
export const CONFIG_DEFAULTS: Config = valid(MINIMAL)

/** gates: 1% errors over a 60 s window from 100 requests, risk 0.05, rolling back; the default gRPC failures. */
export function testGates(over: Partial<Config['gates']> = {}): Config['gates'] {
  return { window: 60_000, min_requests: 100, max_error_rate: 0.01, risk: 0.05, grpc_failures: DEFAULT_GRPC_FAILURES, action: 'rollback', ...over }
}

/** health.active: an http probe of /status/ready each second, 300 ms timeout, 2 to flip either way. */
export function activeHealth(over: Partial<ActiveHealthConfig> = {}): ActiveHealthConfig {
  return { path: '/status/ready', type: 'http', grpc_service: '', interval: 1000, timeout: 300, healthy_threshold: 2, unhealthy_threshold: 2, ...over }
}

/** A node as GET /v1/state shows it: healthy, idle, ready, with the config's default weight of 1. */
export function nodeView(over: Pick<NodeView, 'url' | 'name'> & Partial<NodeView>): NodeView {
  return { healthy: true, ejected: false, ejected_until: null, last_probe: null, inflight: 0, admin: 'ready', weight: 1, weight_source: 'config', config_weight: 1, ...over }
}
