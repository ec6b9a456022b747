/**
 * `cutover ctl <command>`: the operator's client for the control API. Human output by
 * default, --json for scripts; non-zero exit with the server's message on any API error.
 */

import { isPercent } from '../config/percent.js'
import type { EventView, StateView } from '../control/api-types.js'
import { MAX_EVENTS_LIMIT } from '../control/bodies.js'
import { CutoverError, isCutoverError } from '../errors.js'
import { CtlClient } from './client.js'
import { formatEvent, formatNodes, formatStatus } from './format.js'
import { completionScript, SHELLS, type Shell } from './completion.js'
import { nodeRequest } from './nodes.js'
import { watchInterval, watchStatus } from './watch.js'

const { parseArgs } = process.getBuiltinModule('node:util')

export const CTL_USAGE = `usage: cutover ctl <command> [--url URL] [--token TOKEN] [--json]

commands:
  status [--watch] [--interval S]
                              split, lock, rollout, gate figures, node summary;
                              --watch redraws every S seconds (default 2) with the nodes and events
  nodes                       every node with its admin state, weight, health, ejection, in-flight count
  nodes drain|maint|ready POOL NODE [--force]
                              drain: no new requests (probes go on); maint: no traffic, no probes;
                              ready: back to normal; --force for the last usable node of a pool with traffic
  nodes weight POOL NODE N|reset
                              a runtime weight (kept over reloads) or back to the config's
  split N                     send N% of traffic to y (0..100)
  rollback [--reason R]       y to 0 now and lock the split
  unlock                      clear the lock left by a rollback
  events [--since ID] [--follow]
  rollout start|pause|resume|promote|abort
  completion bash|zsh         a shell completion script: source <(cutover ctl completion bash)

URL defaults to $CUTOVER_URL or http://127.0.0.1:9901; TOKEN to $CUTOVER_TOKEN.`

export interface CtlIo {
  out: (text: string) => void
  err: (text: string) => void
  env: Record<string, string | undefined>
  fetch?: typeof fetch
  /** for --follow: wait between polls; returns false to stop */
  wait?: (ms: number) => Promise<boolean>
}

const defaultIo: CtlIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
  wait: (ms) => new Promise((resolve) => setTimeout(() => resolve(true), ms)),
}

/** Every command calls /v1, which wants the token: say where it comes from before asking. */
export const NO_TOKEN = 'no token: set CUTOVER_TOKEN to the control token (control.token; the demo prints it), or pass --token TOKEN'

/** A bad command or value: the message, the usage text, exit code 2. */
function usageError(message: string): CutoverError {
  return new CutoverError('CUTOVER_ERR_USAGE', message)
}

function parsePercent(text: string | undefined): number {
  const y = Number(text)
  if (text === undefined || text.trim() === '' || !isPercent(y)) {
    throw usageError(`split: expected a share of y from 0 to 100 (at most two decimals), got ${text === undefined ? 'nothing' : `'${text}'`}`)
  }
  return y
}

/** ctl's flags, for parseArgs. */
const CTL_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  reason: { type: 'string' },
  since: { type: 'string' },
  follow: { type: 'boolean', short: 'f', default: false },
  force: { type: 'boolean', default: false },
  watch: { type: 'boolean', short: 'w', default: false },
  interval: { type: 'string' },
  names: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function parseCtlArgs(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: CTL_OPTIONS })
}

/** Run one ctl command; returns the exit status. */
export async function runCtl(argv: string[], io: CtlIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parseCtlArgs>
  try {
    parsed = parseCtlArgs(argv)
  } catch (err) {
    io.err(`cutover ctl: ${(err as Error).message}`)
    io.err(CTL_USAGE)
    return 2
  }
  const { values, positionals } = parsed
  const [command, arg] = positionals
  if (command === 'completion') {
    if (!(SHELLS as readonly string[]).includes(arg ?? '')) {
      io.err(`cutover ctl: completion: expected bash or zsh, got ${arg === undefined ? 'nothing' : `'${arg}'`}`)
      return 2
    }
    io.out(completionScript(arg as Shell))
    return 0
  }
  if (values.help || !command) {
    ;(values.help ? io.out : io.err)(CTL_USAGE)
    return values.help ? 0 : 2
  }
  const token = values.token ?? io.env.CUTOVER_TOKEN
  const client = new CtlClient({
    url: values.url ?? io.env.CUTOVER_URL ?? 'http://127.0.0.1:9901',
    token,
    fetch: io.fetch,
  })
  const call = (method: string, path: string, body?: unknown): Promise<unknown> => {
    if (!token) throw usageError(NO_TOKEN)
    return client.call(method, path, body)
  }
  const print = (data: unknown, human: (d: unknown) => string) => io.out(values.json ? JSON.stringify(data, null, 2) : human(data))

  try {
    switch (command) {
      case 'status':
        if (values.watch)
          return await watchStatus(call, values.url ?? io.env.CUTOVER_URL ?? 'http://127.0.0.1:9901', watchInterval(values.interval), {
            out: io.out,
            wait: io.wait ?? defaultIo.wait!,
            now: () => new Date(),
          })
        print(await call('GET', '/v1/state'), formatStatus)
        return 0
      case 'nodes':
        if (values.names) {
          // for shell completion: the names of a pool's nodes, one a line
          const pools = (await call('GET', '/v1/state')) as StateView
          for (const pool of arg === 'x' || arg === 'y' ? [arg as 'x' | 'y'] : (['x', 'y'] as const)) for (const n of pools.pools[pool].nodes) io.out(n.name)
          return 0
        }
        if (arg !== undefined) {
          const { path, body } = nodeRequest(positionals.slice(1), values.force)
          print(await call('PUT', path, body), (s) => formatNodes(s))
          return 0
        }
        print(await call('GET', '/v1/state'), (s) => formatNodes(s))
        return 0
      case 'split':
        print(await call('PUT', '/v1/split', { y: parsePercent(arg) }), formatStatus)
        return 0
      case 'rollback':
        print(await call('POST', '/v1/rollback', values.reason ? { reason: values.reason } : {}), formatStatus)
        return 0
      case 'unlock':
        print(await call('POST', '/v1/unlock', {}), formatStatus)
        return 0
      case 'rollout': {
        const action = arg ?? ''
        if (!['start', 'pause', 'resume', 'promote', 'abort'].includes(action)) throw usageError(`rollout: expected start, pause, resume, promote or abort, got '${action}'`)
        const path = action === 'start' ? '/v1/rollout' : `/v1/rollout/${action}`
        const body = action === 'abort' && values.reason ? { reason: values.reason } : {}
        print(await call('POST', path, body), formatStatus)
        return 0
      }
      case 'events':
        return await events(call, values.since, values.follow, values.json, io)
      default:
        throw usageError(`unknown command '${command}'`)
    }
  } catch (err) {
    if (isCutoverError(err, 'CUTOVER_ERR_USAGE')) {
      io.err(`cutover ctl: ${err.message}`)
      if (err.message !== NO_TOKEN) io.err(CTL_USAGE)
      return 2
    }
    if (isCutoverError(err, 'CUTOVER_ERR_CONTROL_API')) {
      io.err(`cutover ctl: ${err.message}`)
      return 1
    }
    throw err
  }
}

async function events(call: (method: string, path: string) => Promise<unknown>, sinceText: string | undefined, follow: boolean, json: boolean, io: CtlIo): Promise<number> {
  let since = sinceText === undefined ? 0 : Number(sinceText)
  if (!Number.isInteger(since) || since < 0) throw usageError(`events: --since expects an event id, got '${sinceText}'`)
  const wait = io.wait ?? defaultIo.wait!
  for (;;) {
    const list = (await call('GET', `/v1/events?since=${since}`)) as EventView[]
    for (const event of list) {
      io.out(json ? JSON.stringify(event) : formatEvent(event))
      since = Math.max(since, event.id)
    }
    // a full page (the API's limit) may have more behind it: fetch on at once
    if (list.length >= MAX_EVENTS_LIMIT) continue
    if (!follow || !(await wait(1000))) return 0
  }
}
