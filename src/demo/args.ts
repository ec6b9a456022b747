/**
 * The flags of `npx cutover demo`, parsed without side effects. A bad flag or value throws
 * CUTOVER_ERR_USAGE with one line saying what is wrong; runDemo turns it into exit code 2.
 */

import { hasAtMostTwoDecimals } from '../config/percent.js'
import { CutoverError } from '../errors.js'
import { DEMO_RPS, DEMO_SPLIT } from './demo-config.js'

export interface DemoFlags {
  /** proxy port on 127.0.0.1; 0 = any free port */
  port: number
  /** control API port on 127.0.0.1; 0 = any free port */
  controlPort: number
  /** 0..1, injected error rate of the y nodes */
  yErrorRate: number
  /** ms added to every y answer */
  yLatencyMs: number
  /** ms after start before the y nodes report ready */
  yReadyAfterMs: number
  /** background requests per second; 0 disables */
  rps: number
  /** initial share of y, 0..100 */
  split: number
  /** control API bearer token; absent: a random one */
  token?: string
  /** no traffic summaries or event lines, only the banner */
  quiet: boolean
}

export const DEFAULT_FLAGS: Readonly<DemoFlags> = Object.freeze({
  port: 8080,
  controlPort: 9901,
  yErrorRate: 0,
  yLatencyMs: 0,
  yReadyAfterMs: 3000,
  rps: DEMO_RPS,
  split: DEMO_SPLIT,
  quiet: false,
})

export const DEMO_USAGE = `Usage: npx cutover demo [flags]

Runs cutover in front of simulated Kong pools: 3 x nodes (3.4.2) and 3 y nodes (3.9.1),
with steady background traffic, so you can move the split and watch a rollback.

  --port N            proxy port on 127.0.0.1 (default 8080; 0 = any free port)
  --control-port N    control API port on 127.0.0.1 (default 9901; 0 = any free port)
  --y-error-rate R    share of y requests that fail with 500/503, 0..1 (default 0)
  --y-latency D       delay added to every y answer, e.g. 300ms (default 0ms)
  --y-ready-after D   y nodes report ready this long after start (default 3s)
  --rps N             background requests per second, 0 = none (default ${DEMO_RPS})
  --split N           initial share of y in percent, 0..100 (default ${DEMO_SPLIT})
  --token T           control API token (default: a random one)
  --quiet             no traffic summaries or event lines
  --help              this text
`

/** Parse demo flags; null means --help was asked. Throws CUTOVER_ERR_USAGE on bad input. */
export function parseDemoArgs(argv: readonly string[]): DemoFlags | null {
  const flags: DemoFlags = { ...DEFAULT_FLAGS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') return null
    if (!arg.startsWith('--')) usage(`unexpected argument "${arg}" (see --help)`)
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg : arg.slice(0, eq)
    if (name === '--quiet') {
      if (eq >= 0) usage('--quiet takes no value')
      flags.quiet = true
      continue
    }
    let value: string
    if (eq >= 0) {
      value = arg.slice(eq + 1)
    } else {
      if (i + 1 >= argv.length) usage(`${name} needs a value (see --help)`)
      value = argv[++i]
    }
    switch (name) {
      case '--port':
        flags.port = port(name, value)
        break
      case '--control-port':
        flags.controlPort = port(name, value)
        break
      case '--y-error-rate':
        flags.yErrorRate = number(name, value, 0, 1, 'a number from 0 to 1, e.g. 0.2')
        break
      case '--y-latency':
        flags.yLatencyMs = duration(name, value)
        break
      case '--y-ready-after':
        flags.yReadyAfterMs = duration(name, value)
        break
      case '--rps':
        flags.rps = number(name, value, 0, 10_000, 'a number of requests per second from 0 to 10000')
        break
      case '--split': {
        const y = number(name, value, 0, 100, 'a percentage from 0 to 100')
        if (!hasAtMostTwoDecimals(y)) usage(`${name}: "${value}" has more than two decimals`)
        flags.split = y
        break
      }
      case '--token':
        if (!/^[\x21-\x7e]{8,}$/.test(value)) usage(`${name}: needs at least 8 printable characters without spaces`)
        flags.token = value
        break
      default:
        usage(`unknown flag ${name} (see --help)`)
    }
  }
  if (flags.port !== 0 && flags.port === flags.controlPort) usage(`--port and --control-port are both ${flags.port}; pick two different ports`)
  return flags
}

/** A duration flag value in ms: 300ms, 5s, 1m, or a bare 0. */
export function parseDurationFlag(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim())
  if (!m) return value.trim() === '0' ? 0 : null
  const n = Number(m[1])
  const ms = m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000
  return Math.round(ms)
}

function port(name: string, value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!(n >= 0 && n <= 65535)) usage(`${name}: "${value}" is not a port (0 to 65535)`)
  return n
}

function number(name: string, value: string, min: number, max: number, what: string): number {
  const n = value.trim() === '' ? NaN : Number(value)
  if (!(n >= min && n <= max)) usage(`${name}: "${value}" is not ${what}`)
  return n
}

function duration(name: string, value: string): number {
  const ms = parseDurationFlag(value)
  if (ms === null || ms > 3_600_000) usage(`${name}: "${value}" is not a duration such as 300ms, 5s or 1m`)
  return ms as number
}

function usage(message: string): never {
  throw new CutoverError('CUTOVER_ERR_USAGE', message)
}
