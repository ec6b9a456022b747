/**
 * Step hooks: a URL called (POST, JSON) before a rollout step takes effect and after a
 * step's hold, before the next. A 2xx goes on; anything else, or no answer within
 * analysis.hooks.timeout, holds the rollout with the reason.
 */

import { undici } from '../undici-on-demand.js'

export type HookPhase = 'before_step' | 'after_hold'

export interface HookCall {
  phase: HookPhase
  /** the step about to take effect (before_step) or whose hold ended (after_hold), from 0 */
  step: number
  of: number
  /** y's share at that step */
  y: number
  rollout_started_at: string
}

/** The reason to hold when a hook did not say yes; null when it answered 2xx. */
export async function callHook(url: string, call: HookCall, timeoutMs: number): Promise<string | null> {
  try {
    const { request } = await undici()
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'cutover' },
      body: JSON.stringify({ event: call.phase, ...call }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    // only the first bytes matter: the reason an operator reads
    let text = ''
    for await (const chunk of res.body) if (text.length < 200) text += (chunk as Buffer).toString('utf8')
    if (res.statusCode >= 200 && res.statusCode <= 299) return null
    const said = text.trim().slice(0, 200)
    return `${call.phase} hook answered ${res.statusCode}${said ? `: ${said}` : ''}`
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return `${call.phase} hook did not answer within ${timeoutMs} ms`
    return `${call.phase} hook unreachable: ${(err as Error).message}`
  }
}
