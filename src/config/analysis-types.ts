/** The shapes of the config sections of issue 13 (shadow, drift, analysis); their rules are in analysis.ts. */

export interface ShadowConfig {
  /** percent of x's requests copied to y, two decimals */
  share: number
  /** upper-case methods copied; default GET, HEAD, OPTIONS */
  methods: readonly string[]
  /** shadow requests at once; past it a copy is dropped (and counted) */
  max_concurrent: number
  /** ms y may take to answer a copy, from the copy sent until its answer is whole (never x's time); past it, dropped */
  timeout: number
  /** the header (lower-case) marking a shadow request for Kong's logs; its value is 1 */
  header: string
  /** lower-case response header names not compared (besides hop-by-hop ones) */
  ignore_headers: readonly string[]
  /** JSON fields ignored by the structural comparison: a name anywhere, or a dotted path from the root */
  ignore_fields: readonly string[]
  /** bytes of a JSON body compared structurally; a longer body is compared by hash */
  json_max: number
  /** request headers never stored in samples (lower-case), besides authorization and cookies */
  redact_headers: readonly string[]
  /** bytes of a request body buffered for its copy; a request with a longer body is not copied (dropped: body_too_large) */
  max_body_bytes: number
}

/** Where a node's status listener answers: scheme, port, path; unset parts fall back (see DriftConfig). */
export interface StatusTarget {
  scheme?: 'http' | 'https'
  port?: number
  path?: string
}

export interface DriftConfig {
  /** http, or https for a status_listen with ssl */
  scheme: 'http' | 'https'
  /** the status listener's port (Kong's status_listen, 8100); default health.active.port, else the node's own port */
  port?: number
  path: string
  /** per pool: what differs from the above for that pool's nodes */
  x?: StatusTarget
  y?: StatusTarget
  /** for https: a CA file to verify the status listener's certificate (else the system's), or no verification at all */
  tls?: { ca?: string; insecure: boolean }
  interval: number
  timeout: number
  action: 'pause' | 'rollback' | 'none'
}

export interface PromGateConfig {
  name: string
  query: string
  /** fail when the value is above max, or below min */
  max?: number
  min?: number
}

export interface AnalysisConfig {
  prometheus?: { url: string; timeout: number; interval: number }
  queries: readonly PromGateConfig[]
  /** a hook that said no is asked again after `retry` ms */
  hooks: { before_step?: string; after_hold?: string; timeout: number; retry: number }
}
