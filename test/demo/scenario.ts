/**
 * The demo's own scenario, as its banner and the README tell a newcomer to run it: start
 * `npx cutover demo` with its default flags (plus a misbehaving y), then `ctl unlock` and
 * `ctl rollout start`. Real time, bounded by the figures the banner promises.
 */

import pino from 'pino'
import { runCtl } from '../../src/ctl/ctl.js'
import { parseDemoArgs } from '../../src/demo/args.js'
import { startDemo, type Demo } from '../../src/demo/demo.js'
import type { CutoverEvent } from '../../src/state/events.js'
import { waitUntil } from '../helpers/wait.js'

/** Start the demo as `npx cutover demo <flags> --port 0 --control-port 0 --quiet` would. */
export async function startDemoLikeCli(flags: string[]): Promise<Demo> {
  const parsed = parseDemoArgs([...flags, '--port', '0', '--control-port', '0', '--quiet'])
  if (parsed === null) throw new Error('--help in a scenario')
  return startDemo({ ...parsed, logger: pino({ level: 'silent' }) })
}

/** `npx cutover ctl <args>` against the demo, with the env the banner exports; its output lines. */
export async function ctl(demo: Demo, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { CUTOVER_URL: demo.controlUrl, CUTOVER_TOKEN: demo.token } })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

/** The first event after `since` that `match` accepts, polled; its time since `from` in ms. */
export async function nextEvent(demo: Demo, since: number, match: (e: CutoverEvent) => boolean, from: number, timeoutMs: number, what: string): Promise<{ event: CutoverEvent; ms: number }> {
  const event = await waitUntil(what, () => demo.cutover.events.since(since).find(match), timeoutMs, 50)
  return { event, ms: Date.parse(event.at) - from }
}
