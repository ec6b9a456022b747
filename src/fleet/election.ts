/**
 * A replica's membership of the fleet: one etcd lease, kept alive while the replica runs,
 * carries its replica key and, when it leads, the leader key. Leading is a create-if-absent
 * of `<prefix>/leader` with that lease; the others watch the key and try again when it
 * goes (the leader stopped and revoked its lease, or died and the lease ran out, within
 * the lease TTL). A leader that cannot renew its lease for a TTL stops counting itself
 * leader, whatever etcd decides; and every change it makes is a CAS anyway, so two
 * replicas that both think they lead can never both change the state.
 */

import type { Lease } from 'etcd3'
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { EtcdConnection, KeptWatch } from './etcd-connection.js'

export interface ElectionOptions {
  conn: EtcdConnection
  replicaId: string
  /** lease TTL, whole seconds */
  ttlSeconds: number
  clock: Clock
  logger: Logger
  /** this replica started or stopped leading */
  onLeading?: (leading: boolean) => void
}

export class Election {
  readonly #conn: EtcdConnection
  readonly #id: string
  readonly #ttl: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #onLeading?: (leading: boolean) => void
  readonly #key: string
  #lease: Lease | null = null
  #leaseId: string | null = null
  /** ms time of the last renewal etcd confirmed */
  #renewedAt = -Infinity
  /** the leader key's value as last seen; null when nobody leads */
  #leader: string | null = null
  #leading = false
  #watcher: KeptWatch | null = null
  #stopped = false

  constructor(options: ElectionOptions) {
    this.#conn = options.conn
    this.#id = options.replicaId
    this.#ttl = options.ttlSeconds
    this.#clock = options.clock
    this.#logger = options.logger
    this.#onLeading = options.onLeading
    this.#key = options.conn.key('leader')
  }

  /** The replica that leads, as last seen; null when none does. */
  get leader(): string | null {
    return this.#leader
  }

  /** Whether this replica leads: it holds the leader key and its lease was renewed within the TTL. */
  get leading(): boolean {
    return this.#leading && this.#clock.now() - this.#renewedAt < this.#ttl * 1000
  }

  /** Watch the leader key and take part; call tick() regularly after this. */
  async start(): Promise<void> {
    if (this.#stopped) return
    // connects in the background: with etcd away at start, when it is back
    this.#watcher = this.#conn.keptWatch('leader', (client) => client.watch().key(this.#key).watcher(), {
      put: (kv) => this.#seen(kv.value.toString('utf8')),
      delete: () => {
        this.#seen(null)
        void this.tick()
      },
      connected: () => void this.tick(),
    })
    await this.tick()
  }

  /** The lease this replica's keys are put with (granted on demand); null while etcd is away. */
  async leaseId(): Promise<string | null> {
    if (this.#stopped) return null
    if (this.#leaseId !== null && this.#lease !== null && !this.#lease.revoked()) return this.#leaseId
    this.#newLease()
    try {
      const lease = this.#lease!
      const id = await this.#conn.call('grant lease', () => lease.grant())
      if (this.#lease !== lease) return null
      this.#leaseId = id
      this.#renewedAt = this.#clock.now()
      return id
    } catch {
      return null
    }
  }

  /** Run for leadership when nobody leads, and check the leader key; cheap when nothing changed. */
  async tick(): Promise<void> {
    if (this.#stopped) return
    const lease = await this.leaseId()
    if (lease === null) {
      this.#setLeading(this.leading)
      return
    }
    try {
      const client = this.#conn.client
      const res = await this.#conn.call('campaign', (o) =>
        client.if(this.#key, 'Create', '==', 0).then(client.put(this.#key).value(this.#id).lease(lease)).else(client.get(this.#key)).options(o).commit(),
      )
      if (res.succeeded) this.#seen(this.#id)
      else {
        const kv = res.responses[0]?.response_range?.kvs?.[0]
        this.#seen(kv ? kv.value.toString('utf8') : null)
        // our own key from an earlier lease of this replica: ours again once that lease ends
        if (kv && this.#leader === this.#id && kv.lease !== lease) this.#leading = false
      }
    } catch {
      // etcd away: leading lapses by itself once the lease is not renewed within the TTL
    }
    this.#setLeading(this.leading)
  }

  /** Stop: give the leadership and the lease up at once (revoke), or leave them to expire (a crash). */
  async stop(options: { revoke: boolean } = { revoke: true }): Promise<void> {
    this.#stopped = true
    const w = this.#watcher
    this.#watcher = null
    await w?.cancel()
    const lease = this.#lease
    this.#lease = null
    this.#setLeading(false)
    if (lease === null) return
    if (options.revoke) await lease.revoke({ deadline: Date.now() + 1000 }).catch(() => undefined)
    else lease.release()
  }

  #newLease(): void {
    this.#lease?.release()
    const lease = this.#conn.client.lease(this.#ttl)
    this.#lease = lease
    this.#leaseId = null
    lease.on('keepaliveSucceeded', () => {
      this.#renewedAt = this.#clock.now()
      this.#conn.markUp()
    })
    lease.on('lost', (err) => {
      if (this.#lease !== lease) return
      this.#logger.warn({ err: err.message }, 'fleet lease lost: a new one is taken when etcd answers')
      this.#lease = null
      this.#leaseId = null
      this.#setLeading(false)
    })
  }

  #seen(leader: string | null): void {
    this.#leader = leader
    this.#leading = leader === this.#id && this.#leaseId !== null
    this.#setLeading(this.leading)
  }

  #reported = false
  #setLeading(leading: boolean): void {
    if (leading === this.#reported) return
    this.#reported = leading
    this.#logger.info({ replica: this.#id }, leading ? 'this replica leads the fleet' : 'this replica no longer leads the fleet')
    this.#onLeading?.(leading)
  }
}
