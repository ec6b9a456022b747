/**
 * Runs active probes on the injected clock's timers. Each node has at most one probe
 * running; the next starts an interval after the previous one started, but never before
 * it finished. First probes are spread over the interval so n nodes are not hit at once.
 */

import type { Clock, TimerHandle } from '../clock.js'
import type { ActiveHealthConfig } from '../config/types.js'
import type { UpstreamNode } from '../upstream/node.js'
import { describeProbeError, type ProbeFn } from './probe-fn.js'
import type { ProbeResult } from './probe-state.js'

const http = process.getBuiltinModule('node:http')
const https = process.getBuiltinModule('node:https')

export type { ProbeFn } from './probe-fn.js'
export { describeProbeError } from './probe-fn.js'

export interface ProberOptions {
  clock: Clock
  probe?: ProbeFn
  /** every finished probe of a node still being probed */
  onResult: (node: UpstreamNode, result: ProbeResult) => void
}

interface Entry {
  node: UpstreamNode
  timer: TimerHandle | null
  running: boolean
  startedAt: number
  abort: AbortController | null
}

const TIMED_OUT = Symbol('timeout')

/** The default probe: GET path on the node's host at port (or its traffic port); 2xx is ok. */
export const httpProbe =
  (clock: Clock): ProbeFn =>
  (node, config, signal) => {
    const started = clock.monotonic()
    const c = node.config
    const mod = c.protocol === 'https:' ? https : http
    // URL.hostname keeps IPv6 brackets; the socket wants the bare address
    const host = c.hostname.startsWith('[') ? c.hostname.slice(1, -1) : c.hostname
    const port = config.port ?? c.port
    return new Promise<ProbeResult>((resolve) => {
      let done = false
      const finish = (r: ProbeResult): void => {
        if (done) return
        done = true
        resolve(r)
      }
      const ms = (): number => Math.round(clock.monotonic() - started)
      const fail = (err: unknown): void => finish({ ok: false, error: describeProbeError(err, config.timeout, signal.aborted), ms: ms() })
      if (signal.aborted) return fail(signal.reason)
      const req = mod.request({ host, port, path: config.path, method: 'GET', agent: false, signal, headers: { host: `${c.hostname}:${port}`, 'user-agent': 'cutover-health' } }, (res) => {
        const status = res.statusCode ?? 0
        const ok = status >= 200 && status < 300
        const result = (): ProbeResult => (ok ? { ok, status, ms: ms() } : { ok, status, error: `status ${status}`, ms: ms() })
        // read and discard the body so the socket closes cleanly; the verdict is the status
        res.resume()
        res.on('end', () => finish(result()))
        res.on('error', () => finish(result()))
        res.on('close', () => finish(result()))
      })
      req.on('error', fail)
      req.end()
    })
  }

/**
 * The default probe: HTTP, or gRPC health checking for health.active.type grpc
 * (grpc-probe.ts, with node:http2 under it: loaded by the first gRPC probe, so a cutover
 * without one does not carry it; issue 10).
 */
function probeByType(clock: Clock): ProbeFn {
  const http = httpProbe(clock)
  let grpc: Promise<ProbeFn> | undefined
  return (node, config, signal) => {
    if (config.type !== 'grpc') return http(node, config, signal)
    grpc ??= import('./grpc-probe.js').then((m) => m.grpcProbe(clock))
    return grpc.then((probe) => probe(node, config, signal))
  }
}

export class Prober {
  readonly #clock: Clock
  readonly #probe: ProbeFn
  readonly #onResult: ProberOptions['onResult']
  readonly #entries = new Map<UpstreamNode, Entry>()
  #config: ActiveHealthConfig | undefined
  #started = false

  constructor(options: ProberOptions) {
    this.#clock = options.clock
    this.#probe = options.probe ?? probeByType(options.clock)
    this.#onResult = options.onResult
  }

  /** Nodes to probe: added ones are probed at once (when running), removed ones stop. */
  setNodes(nodes: readonly UpstreamNode[]): void {
    const keep = new Set(nodes)
    for (const [node, entry] of this.#entries) {
      if (!keep.has(node)) {
        this.#halt(entry)
        this.#entries.delete(node)
      }
    }
    for (const node of nodes) {
      if (this.#entries.has(node)) continue
      const entry: Entry = { node, timer: null, running: false, startedAt: 0, abort: null }
      this.#entries.set(node, entry)
      if (this.#started && this.#config) this.#schedule(entry, 0)
    }
  }

  /** New probe settings; undefined stops probing. A new interval re-spreads waiting probes. */
  setConfig(config: ActiveHealthConfig | undefined): void {
    const previous = this.#config
    this.#config = config
    if (!this.#started) return
    if (!config) {
      for (const entry of this.#entries.values()) this.#halt(entry)
    } else if (!previous || previous.interval !== config.interval) {
      this.#spread()
    }
  }

  /** Start probing, first probes offset by i * interval / n. */
  start(): void {
    if (this.#started) return
    this.#started = true
    if (this.#config) this.#spread()
  }

  /** Stop every timer and abort running probes. */
  stop(): void {
    this.#started = false
    for (const entry of this.#entries.values()) this.#halt(entry)
  }

  /** True while a probe of node is in flight (for tests and describe). */
  isRunning(node: UpstreamNode): boolean {
    return this.#entries.get(node)?.running ?? false
  }

  #spread(): void {
    const interval = this.#config!.interval
    const n = this.#entries.size
    let i = 0
    for (const entry of this.#entries.values()) {
      // a running probe schedules its own successor when it completes
      if (!entry.running) this.#schedule(entry, Math.floor((i * interval) / n))
      i++
    }
  }

  #schedule(entry: Entry, delay: number): void {
    this.#clock.clearTimeout(entry.timer)
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = null
      void this.#run(entry)
    }, delay)
  }

  #halt(entry: Entry): void {
    this.#clock.clearTimeout(entry.timer)
    entry.timer = null
    entry.abort?.abort(new Error('probing stopped'))
    entry.abort = null
    entry.running = false
  }

  async #run(entry: Entry): Promise<void> {
    const config = this.#config
    if (!config || !this.#started || this.#entries.get(entry.node) !== entry || entry.running) return
    const abort = new AbortController()
    entry.running = true
    entry.abort = abort
    entry.startedAt = this.#clock.monotonic()
    let timer: TimerHandle | null = null
    // the clock owns the timeout, so a probe that ignores its signal still ends on time
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve(TIMED_OUT), config.timeout)
    })
    let result: ProbeResult
    try {
      const r = await Promise.race([this.#probe(entry.node, config, abort.signal), timedOut])
      if (r === TIMED_OUT) {
        abort.abort(new Error('probe timed out'))
        result = { ok: false, error: `timeout after ${config.timeout}ms`, ms: config.timeout }
      } else {
        result = r
      }
    } catch (err) {
      result = { ok: false, error: describeProbeError(err, config.timeout, abort.signal.aborted), ms: this.#clock.monotonic() - entry.startedAt }
    }
    this.#clock.clearTimeout(timer)
    // stopped, removed or restarted meanwhile: this result belongs to nobody
    if (entry.abort !== abort || this.#entries.get(entry.node) !== entry) return
    entry.running = false
    entry.abort = null
    this.#onResult(entry.node, result)
    if (this.#started && this.#config) {
      const wait = entry.startedAt + this.#config.interval - this.#clock.monotonic()
      this.#schedule(entry, Math.max(wait, 0))
    }
  }
}
