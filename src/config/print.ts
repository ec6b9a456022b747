/**
 * The effective configuration as YAML: every key with its default filled in, durations as
 * strings, nodes as { url, weight }, the token masked. Parsing the output (with a real
 * token) gives the same Config back.
 */

import { Document, isMap, visit } from 'yaml'
import type { ActiveHealthConfig, Config, NodeConfig } from './types.js'
import { formatHostPort } from './addresses.js'
import { formatAnalysisSections } from './analysis.js'
import { formatDuration } from './duration.js'
import { formatStateSection } from './state-backend.js'

export const MASKED_TOKEN = '********'

/** The effective config as YAML text, the token masked. */
export function formatEffectiveConfig(config: Config): string {
  const { proxy, health, gates } = config
  const plain = {
    proxy: {
      listen: formatHostPort(proxy.listen),
      ...(proxy.tls && { tls: { cert: proxy.tls.cert, key: proxy.tls.key } }),
      workers: proxy.workers,
      connect_timeout: formatDuration(proxy.connect_timeout),
      header_timeout: formatDuration(proxy.header_timeout),
      request_timeout: formatDuration(proxy.request_timeout),
      drain_timeout: formatDuration(proxy.drain_timeout),
      retries: proxy.retries,
      keepalive_timeout: formatDuration(proxy.keepalive_timeout),
      max_connections: proxy.max_connections,
      max_header_size: proxy.max_header_size,
      max_body_size: proxy.max_body_size,
      max_inflight: proxy.max_inflight,
      upstream_max_connections: proxy.upstream_max_connections,
      upstream_keepalive_timeout: formatDuration(proxy.upstream_keepalive_timeout),
      idle_timeout: formatDuration(proxy.idle_timeout),
      ...(proxy.h2c_listen && { h2c_listen: formatHostPort(proxy.h2c_listen) }),
      h2_max_concurrent_streams: proxy.h2_max_concurrent_streams,
      proxy_protocol: proxy.proxy_protocol,
    },
    control: {
      listen: formatHostPort(config.control.listen),
      ...(config.control.token_file !== undefined ? { token_file: config.control.token_file } : { token: MASKED_TOKEN }),
      ...(config.control.viewer_token_file !== undefined ? { viewer_token_file: config.control.viewer_token_file } : config.control.viewer_token !== undefined && { viewer_token: MASKED_TOKEN }),
      ...(config.control.tls && { tls: { cert: config.control.tls.cert, key: config.control.tls.key } }),
    },
    state: formatStateSection(config.state),
    pools: { x: { nodes: config.pools.x.nodes.map(nodeEntry) }, y: { nodes: config.pools.y.nodes.map(nodeEntry) } },
    split: {
      y: config.split.y,
      ...(config.split.sticky && { sticky: { ...config.split.sticky } }),
      ...(config.split.override_header !== undefined && { override_header: config.split.override_header }),
    },
    health: {
      ...(health.active && { active: activeEntry(health.active) }),
      passive: { max_failures: health.passive.max_failures, eject_for: formatDuration(health.passive.eject_for) },
    },
    gates: {
      window: formatDuration(gates.window),
      min_requests: gates.min_requests,
      max_error_rate: gates.max_error_rate,
      ...(gates.max_error_rate_over_x !== undefined && { max_error_rate_over_x: gates.max_error_rate_over_x }),
      ...(gates.max_p99_ms !== undefined && { max_p99_ms: gates.max_p99_ms }),
      risk: gates.risk,
      grpc_failures: [...gates.grpc_failures],
      action: gates.action,
      ...(gates.max_shadow_mismatch_rate !== undefined && { max_shadow_mismatch_rate: gates.max_shadow_mismatch_rate }),
    },
    ...(config.rollout && { rollout: { steps: config.rollout.steps.map((s) => ({ y: s.y, hold: formatDuration(s.hold) })) } }),
    log: { ...config.log },
    events: { ...config.events },
    ...formatAnalysisSections(config, formatDuration),
  }
  const doc = new Document(plain)
  // nodes and steps read best one per line: { url: ..., weight: 1 }
  visit(doc, {
    Seq(_key, seq) {
      for (const item of seq.items) if (isMap(item)) item.flow = true
    },
  })
  visit(doc, {
    Map(_key, map) {
      if (map.items.length === 0) map.flow = true
    },
  })
  return doc.toString({ lineWidth: 0 })
}

function nodeEntry(node: NodeConfig): { url: string; name?: string; weight: number; h2?: string } {
  // a name is printed only when one was given: host:port is the default
  const given = node.name !== formatHostPort({ host: node.hostname, port: node.port })
  return { url: node.url, ...(given && { name: node.name }), weight: node.weight, ...(node.h2 && { h2: node.h2.url }) }
}

function activeEntry(active: ActiveHealthConfig): Record<string, unknown> {
  return {
    path: active.path,
    ...(active.port !== undefined && { port: active.port }),
    type: active.type,
    ...(active.type === 'grpc' && { grpc_service: active.grpc_service }),
    interval: formatDuration(active.interval),
    timeout: formatDuration(active.timeout),
    healthy_threshold: active.healthy_threshold,
    unhealthy_threshold: active.unhealthy_threshold,
  }
}
