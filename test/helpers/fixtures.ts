/** Typed fixtures shared by unit tests: config sections and API views with the real defaults. */

import type { ActiveHealthConfig, Config } from '../../src/config/types.js'
import type { FleetView, NodeView, ReplicaView } from '../../src/control/api-types.js'
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
  return { healthy: true, ejected: false, ejected_until: null, last_probe: null, last_failure: null, inflight: 0, admin: 'ready', weight: 1, weight_source: 'config', config_weight: 1, ...over }
}

/** A replica as /v1/state's fleet section shows it: `rN` at 10.0.0.N:9901, x 900 requests 9 errors, y 100 and 0, nodes x1 and y1 usable but for `unusable`. */
export function replicaView(id: string, over: Partial<ReplicaView> & { unusable?: string[] } = {}): ReplicaView {
  const { unusable = [], ...rest } = over
  const at = '2026-01-01T10:00:05.000Z'
  return {
    id,
    control: `10.0.0.${id.slice(1)}:9901`,
    started_at: at,
    last_seen: at,
    leader: false,
    traffic: { x: { requests: 900, errors: 9 }, y: { requests: 100, errors: 0 } },
    nodes: (['x1', 'y1'] as const).map((name) => ({ pool: name[0] as 'x' | 'y', name, usable: !unusable.includes(name) })),
    ...rest,
  }
}

/** A fleet section answered by r1, etcd up, r2 leading, with the replicas given (r1 to r3 by default), gates without traffic. */
export function fleetView(over: Partial<FleetView> = {}): FleetView {
  const window = { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 }
  return {
    replica_id: 'r1',
    leader: 'r2',
    leading: false,
    backend: { kind: 'etcd', up: true, reason: null, since: '2026-01-01T10:00:00.000Z' },
    replicas: [replicaView('r1'), replicaView('r2', { leader: true }), replicaView('r3', { unusable: ['y1'] })],
    gates: { x: window, y: window, replicas: 3, verdict: 'none', reason: null, checks: [], evaluated_at: null, evaluated_by: 'r2' },
    ...over,
  }
}
