/** The shape of the `state` config section (file or etcd backend); its rules are in state-backend.ts. */

export type StateBackendKind = 'file' | 'etcd'

export interface EtcdConfig {
  /** client URLs of the etcd members, e.g. http://10.0.0.5:2379 (normalised, no trailing slash) */
  endpoints: string[]
  /** the key prefix naming this cutover cluster, e.g. /cutover/prod-eu (no trailing slash) */
  prefix: string
  /** ms a replica's lease lives without a keepalive: a dead leader is replaced within it */
  lease_ttl: number
  /** client TLS: CA bundle, and a client certificate and key (both or neither) */
  tls?: { ca?: string; cert?: string; key?: string }
  username?: string
  password?: string
}

export interface StateConfig {
  path: string
  backend: StateBackendKind
  /** present when backend is etcd */
  etcd?: EtcdConfig
  /** this replica's name in the fleet; absent: hostname:control-port, decided at start */
  replica_id?: string
}
