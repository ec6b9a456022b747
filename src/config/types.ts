/**
 * The effective configuration after parsing, ${VAR} substitution, validation and
 * defaults: durations are milliseconds, node URLs are parsed. Frozen once built.
 * The YAML keys are SPEC section 2; the extensions are marked.
 */

import type { GrpcCodeName } from '../h2/grpc-status.js'
import type { AnalysisConfig, DriftConfig, ShadowConfig } from './analysis-types.js'
import type { StateConfig } from './state-types.js'

export type PoolName = 'x' | 'y'
export const POOLS: readonly PoolName[] = ['x', 'y']
/** A pool's place in POOLS, for arrays indexed by pool. */
export const POOL_INDEX: Readonly<Record<PoolName, number>> = { x: 0, y: 1 }

export interface HostPort {
  host: string
  port: number
}

export interface NodeConfig {
  /** As written in the config, normalised (no trailing slash): http://10.0.0.11:8000 */
  url: string
  /** protocol + host + port, what undici connects to */
  origin: string
  /** the configured `name`, else host:port: the `node` metric label and the name in events, API and console */
  name: string
  protocol: 'http:' | 'https:'
  hostname: string
  port: number
  weight: number
  /** extension (issue 12): the node's HTTP/2 listener, for h2 and gRPC streams; absent, they go over HTTP/1.1 (gRPC cannot) */
  h2?: H2Address
}

/** A node's HTTP/2 listener: `h2c://host:port` (prior knowledge) or `h2://host:port` (TLS, ALPN h2). */
export interface H2Address {
  /** normalised: h2c://10.0.0.11:9080 */
  url: string
  tls: boolean
  hostname: string
  port: number
  /** host:port, the :authority of a request that had none */
  authority: string
}

export interface StickyConfig {
  /** exactly one of these is set */
  header?: string
  cookie?: string
  ip?: true
}

export interface ActiveHealthConfig {
  path: string
  port?: number
  /** extension (issue 12): http (GET path) or grpc (grpc.health.v1.Health/Check on the node's h2 address) */
  type: 'http' | 'grpc'
  /** extension (issue 12): the service name a grpc probe asks about ('' = the whole server) */
  grpc_service: string
  interval: number
  timeout: number
  healthy_threshold: number
  unhealthy_threshold: number
}

export interface RolloutStepConfig {
  /** share of y, 0..100 with at most two decimals */
  y: number
  /** ms; 0 for the last step */
  hold: number
}

export interface Config {
  proxy: {
    listen: HostPort
    tls?: { cert: string; key: string }
    /** a number >= 1 or "auto" (one per core) */
    workers: number | 'auto'
    connect_timeout: number
    header_timeout: number
    request_timeout: number
    drain_timeout: number
    retries: number
    /** extension: idle keep-alive timeout of client connections, ms (default 5s) */
    keepalive_timeout: number
    /** extension: most open client connections, 0 = unlimited (default 0) */
    max_connections: number
    /** extension: largest request head in bytes (default 16384) */
    max_header_size: number
    /** extension: largest request body in bytes, 0 = unlimited (default 0) */
    max_body_size: number
    /**
     * extension: most client requests served at once by one process, 0 = unlimited
     * (default 10000); beyond it a request is answered 503 with Retry-After at once
     */
    max_inflight: number
    /**
     * extension: most open connections from one process to one node, 0 = unlimited
     * (default 64); beyond it a request waits for a free one (connect and request timeouts still apply)
     */
    upstream_max_connections: number
    /**
     * extension: ms an idle connection to a node is kept for reuse (default 30 s, well under
     * the 60-75 s of nginx-based nodes such as Kong); a node whose Keep-Alive header says it
     * closes sooner is held to that, less 1 s
     */
    upstream_keepalive_timeout: number
    /**
     * extension: ms an answer's body may stand still once its head was relayed (the node
     * sends nothing of it, or the client takes nothing) before the exchange is cut (default
     * 60 s, nginx's proxy_read_timeout and send_timeout)
     */
    idle_timeout: number
    /** extension (issue 12): plain-text HTTP/2 listener (prior knowledge), for gRPC without TLS */
    h2c_listen?: HostPort
    /** extension (issue 12): most concurrent streams per client HTTP/2 connection (default 128) */
    h2_max_concurrent_streams: number
    /**
     * extension: every connection to proxy.listen and proxy.h2c_listen begins with a PROXY
     * protocol header (v1 or v2) from a TCP balancer in front, whose client address
     * cutover uses; a connection without a valid one is closed (default false)
     */
    proxy_protocol: boolean
  }
  control: {
    listen: HostPort
    /** the operator token (from `token` or read from `token_file`) */
    token: string
    /** extension (issue 14): where the operator token was read from */
    token_file?: string
    /** extension (issue 14): the read-only token (from `viewer_token` or `viewer_token_file`) */
    viewer_token?: string
    viewer_token_file?: string
    /** extension (issue 14): HTTPS on the control listener; the files are read again on SIGHUP */
    tls?: { cert: string; key: string }
  }
  /** the state file, or the fleet's shared state in etcd (issue 11) */
  state: StateConfig
  pools: Record<PoolName, { nodes: NodeConfig[] }>
  split: {
    /** initial share of y, used only when no state exists */
    y: number
    sticky?: StickyConfig
    /** lower-cased header name */
    override_header?: string
  }
  health: {
    /** absent: no active probes, every node counts as healthy unless ejected */
    active?: ActiveHealthConfig
    passive: { max_failures: number; eject_for: number }
  }
  gates: {
    window: number
    min_requests: number
    max_error_rate: number
    max_error_rate_over_x?: number
    max_p99_ms?: number
    /** extension (issue 18): the chance that a y within its limits is ever rolled back, 0 < risk < 0.5 */
    risk: number
    /** extension (issue 12): the grpc-status values that count a gRPC call as failed */
    grpc_failures: readonly GrpcCodeName[]
    action: 'rollback' | 'pause'
    /** extension (issue 13): the largest share of shadow comparisons that may disagree before a rollout leaves its first step */
    max_shadow_mismatch_rate?: number
  }
  rollout?: { steps: RolloutStepConfig[] }
  /** extension */
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
    /** access log, sampled */
    access: boolean
    /** share of requests logged when access is on, 0..1 (default 0.01) */
    access_sample: number
  }
  /** extension (issue 6) */
  events: {
    webhook?: string
    /** extension (issue 14): the audit log beside the state file, rotated past max_size, `keep` old files kept */
    audit: { max_size: number; keep: number }
  }
  /** extension (issue 13): copies of x's requests sent to y and compared */
  shadow?: ShadowConfig
  /** extension (issue 13): Kong's configuration_hash watched on every node */
  drift?: DriftConfig
  /** extension (issue 13): PromQL gates and step hooks */
  analysis: AnalysisConfig
}
