/**
 * `cutover ctl status --watch` (issue 14): a live terminal view that redraws every
 * interval, like `kubectl argo rollouts get rollout --watch`: the status, the nodes and
 * the last events. A failed poll is shown in place and the next one tried; it stops when
 * io.wait says so (Ctrl-C in a terminal).
 */

import type { EventView } from '../control/api-types.js'
import { CutoverError } from '../errors.js'
import { formatEvent, formatNodes, formatStatus } from './format.js'

/** Home the cursor and clear the screen: each frame replaces the last. */
export const CLEAR = '\x1b[H\x1b[2J'
const EVENTS_SHOWN = 8

export interface WatchIo {
  out: (text: string) => void
  /** wait between frames; false stops */
  wait: (ms: number) => Promise<boolean>
  /** local time for the header */
  now: () => Date
}

/** Parse --interval: a whole number of seconds, 1 to 3600 (default 2). */
export function watchInterval(text: string | undefined): number {
  if (text === undefined) return 2000
  const s = Number(text.replace(/s$/, ''))
  if (!Number.isInteger(s) || s < 1 || s > 3600) throw new CutoverError('CUTOVER_ERR_USAGE', `status --watch: --interval expects whole seconds from 1 to 3600, got '${text}'`)
  return s * 1000
}

/** One frame: what the screen shows for a state and its last events. */
export function watchFrame(state: unknown, events: readonly EventView[], at: Date, url: string): string {
  const recent = events.slice(-EVENTS_SHOWN).map(formatEvent)
  return [`cutover ${url}   ${at.toLocaleTimeString()}   (Ctrl-C to stop)`, '', formatStatus(state), '', formatNodes(state), '', 'Recent events:', ...(recent.length ? recent : ['  none'])].join('\n')
}

/** Redraw until io.wait returns false; returns the exit status. */
export async function watchStatus(call: (method: string, path: string) => Promise<unknown>, url: string, intervalMs: number, io: WatchIo): Promise<number> {
  let events: EventView[] = []
  let since = 0
  for (;;) {
    let frame: string
    try {
      const state = await call('GET', '/v1/state')
      const fresh = (await call('GET', `/v1/events?since=${since}`)) as EventView[]
      for (const e of fresh) since = Math.max(since, e.id)
      events = events.concat(fresh).slice(-EVENTS_SHOWN)
      frame = watchFrame(state, events, io.now(), url)
    } catch (err) {
      // a usage error (no token) will not get better by waiting
      if (err instanceof CutoverError && err.code === 'CUTOVER_ERR_USAGE') throw err
      frame = `cutover ${url}   ${io.now().toLocaleTimeString()}\n\n${(err as Error).message}\n\nretrying every ${intervalMs / 1000}s`
    }
    io.out(`${CLEAR}${frame}`)
    if (!(await io.wait(intervalMs))) return 0
  }
}
