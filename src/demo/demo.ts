/**
 * `npx cutover demo`: three simulated Kong 3.4.2 nodes (x), three 3.9.1 nodes (y), a real
 * cutover in front of them built from a YAML config like any other, and steady background
 * traffic, so a newcomer can move the split and watch the gate roll back.
 */

import pino, { type Logger } from 'pino'
import { startCutover, type Cutover } from '../app.js'
import type { Random } from '../clock.js'
import { ConfigError } from '../config/config-error.js'
import { parseConfig } from '../config/load.js'
import { CutoverError, isCutoverError } from '../errors.js'
import { DEFAULT_FLAGS, DEMO_USAGE, parseDemoArgs, type DemoFlags } from './args.js'
import { formatBanner, formatEvent } from './banner.js'
import { buildDemoYaml, DEMO_TOKEN_ENV } from './demo-config.js'
import { startLoad, type LoadGenerator } from './load.js'
import { startSimNode, type SimNode } from './sim-node.js'

const { mkdtemp, rm } = process.getBuiltinModule('node:fs/promises')
const { randomBytes } = process.getBuiltinModule('node:crypto')
const { tmpdir } = process.getBuiltinModule('node:os')
const { join } = process.getBuiltinModule('node:path')

export const X_VERSION = '3.4.2'
export const Y_VERSION = '3.9.1'
const NODES_PER_POOL = 3

export interface DemoOptions extends Partial<DemoFlags> {
  /** where everything listens; default 127.0.0.1 */
  host?: string
  /** cutover's logger; default pino at warn on stderr */
  logger?: Logger
  /** receives the traffic summary lines; absent: none */
  summary?: (line: string) => void
  random?: Random
}

export interface Demo {
  readonly proxyUrl: string
  readonly controlUrl: string
  readonly token: string
  readonly nodes: { x: SimNode[]; y: SimNode[] }
  readonly cutover: Cutover
  /** the state file, in a temp dir of its own that close() removes */
  readonly statePath: string
  /** the background traffic (a no-op generator when rps is 0) */
  readonly load: LoadGenerator
  /** the flags in effect, defaults filled in */
  readonly flags: Readonly<DemoFlags> & { token: string }
  /** stop traffic, cutover and the nodes; remove the temp state dir */
  close(): Promise<void>
}

/** Start the simulated pools, cutover and the background traffic. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const flags = { ...DEFAULT_FLAGS, ...definedOnly(options), token: options.token ?? randomToken() }
  const host = options.host ?? '127.0.0.1'
  // the demo prints every event in words already; only errors as JSON on stderr
  const logger = options.logger ?? pino({ level: 'error' }, pino.destination(2))
  const cleanup: Array<() => Promise<unknown>> = []
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined)
  }

  try {
    const x = await Promise.all(range(NODES_PER_POOL).map((i) => startSimNode({ pool: 'x', version: X_VERSION, name: `kong-x${i + 1}`, host, random: options.random })))
    cleanup.push(() => Promise.all(x.map((n) => n.close())))
    const y = await Promise.all(
      range(NODES_PER_POOL).map((i) =>
        startSimNode({
          pool: 'y',
          version: Y_VERSION,
          name: `kong-y${i + 1}`,
          host,
          errorRate: flags.yErrorRate,
          latencyMs: flags.yLatencyMs,
          readyAfterMs: flags.yReadyAfterMs,
          random: options.random,
        }),
      ),
    )
    cleanup.push(() => Promise.all(y.map((n) => n.close())))

    // a fresh state dir per run: demo runs must not remember each other's split or lock
    const dir = await mkdtemp(join(tmpdir(), 'cutover-demo-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))

    const statePath = join(dir, 'state.json')
    const yaml = buildDemoYaml({
      host,
      port: flags.port,
      controlPort: flags.controlPort,
      statePath,
      xNodes: x.map((n) => ({ url: n.url, name: n.name })),
      yNodes: y.map((n) => ({ url: n.url, name: n.name })),
      split: flags.split,
    })
    const config = parseConfig(yaml, { env: { [DEMO_TOKEN_ENV]: flags.token }, source: 'demo config' })

    let cutover: Cutover
    try {
      cutover = await startCutover(config, { logger, random: options.random })
    } catch (err) {
      throw listenError(err, flags) ?? err
    }
    cleanup.push(() => cutover.close())

    const proxyUrl = url(cutover.proxyAddress.host, cutover.proxyAddress.port)
    const controlUrl = url(cutover.controlAddress.host, cutover.controlAddress.port)
    const load = startLoad({
      url: proxyUrl,
      rps: flags.rps,
      summary: options.summary,
      labels: { [X_VERSION]: 'x', [Y_VERSION]: 'y' },
      random: options.random,
    })
    cleanup.push(() => load.close())

    let closing: Promise<void> | undefined
    return {
      proxyUrl,
      controlUrl,
      token: flags.token,
      nodes: { x, y },
      cutover,
      statePath,
      load,
      flags,
      close: () => (closing ??= undo()),
    }
  } catch (err) {
    await undo()
    throw err
  }
}

export interface RunDemoIo {
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
  /** resolves when the demo should stop; default: SIGINT or SIGTERM */
  stop?: Promise<unknown>
  logger?: Logger
}

/** The `cutover demo` command: parse flags, start, print, run until a signal; the exit code. */
export async function runDemo(argv: string[], io: RunDemoIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  let flags: DemoFlags | null
  try {
    flags = parseDemoArgs(argv)
  } catch (err) {
    if (!isCutoverError(err, 'CUTOVER_ERR_USAGE')) throw err
    stderr.write(`cutover demo: ${err.message}\n`)
    return 2
  }
  if (flags === null) {
    stdout.write(DEMO_USAGE)
    return 0
  }

  let demo: Demo
  try {
    demo = await startDemo({
      ...flags,
      logger: io.logger,
      summary: flags.quiet ? undefined : (line) => stderr.write(`${line}\n`),
    })
  } catch (err) {
    if (err instanceof ConfigError) {
      // the demo builds its own config, so this is a bug; still say what is wrong
      for (const problem of err.problems) stderr.write(`cutover demo: generated config: ${problem}\n`)
      return 1
    }
    stderr.write(`cutover demo: ${isCutoverError(err) ? err.message : `cannot start: ${(err as Error).message}`}\n`)
    return 1
  }

  stdout.write(
    formatBanner({
      proxyUrl: demo.proxyUrl,
      controlUrl: demo.controlUrl,
      token: demo.token,
      xVersion: X_VERSION,
      yVersion: Y_VERSION,
      xNodes: demo.nodes.x.map((n) => ({ name: n.name, url: n.url })),
      yNodes: demo.nodes.y.map((n) => ({ name: n.name, url: n.url })),
      yErrorRate: flags.yErrorRate,
      yLatencyMs: flags.yLatencyMs,
      yReadyAfterMs: flags.yReadyAfterMs,
      rps: flags.rps,
      split: flags.split,
      quiet: flags.quiet,
    }),
  )
  const unsubscribe = flags.quiet ? () => false : demo.cutover.events.subscribe((e) => stdout.write(`event: ${formatEvent(e)}\n`))

  await (io.stop ?? nextSignal())
  unsubscribe()
  stdout.write('stopping the demo...\n')
  try {
    await demo.close()
  } catch (err) {
    stderr.write(`cutover demo: error while stopping: ${(err as Error).message}\n`)
    return 1
  }
  return 0
}

/** Resolves on the first SIGINT or SIGTERM; a second one falls back to Node's default (exit). */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** A taken or forbidden port, as one line naming the port and the flag that moves it. */
function listenError(err: unknown, flags: Readonly<DemoFlags>): CutoverError | null {
  for (let e = err as { code?: unknown; port?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') continue
    const port = typeof e.port === 'number' ? e.port : null
    const flag = port === flags.controlPort ? '--control-port' : port === flags.port ? '--port' : '--port or --control-port'
    const what = e.code === 'EADDRINUSE' ? 'is already in use' : 'is not allowed for this user'
    return new CutoverError('CUTOVER_ERR_LISTEN', `port ${port ?? '?'} ${what}; choose another with ${flag} N (0 picks a free one)`, { cause: err })
  }
  return null
}

function url(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

function randomToken(): string {
  // 18 bytes of base64url are exactly 24 characters, all safe in a shell and a header
  return randomBytes(18).toString('base64url')
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/** The flag fields of options that are set, so undefined never overrides a default. */
function definedOnly(options: DemoOptions): Partial<DemoFlags> {
  const out: Partial<DemoFlags> = {}
  for (const key of Object.keys(DEFAULT_FLAGS) as Array<keyof DemoFlags>) {
    if (options[key] !== undefined) (out as Record<string, unknown>)[key] = options[key]
  }
  return out
}
