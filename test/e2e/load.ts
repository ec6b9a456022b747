/**
 * Bounded client load for the end-to-end tests: GETs at a fixed rate (open loop, like the
 * many independent clients in front of a load balancer, and gentler on a shared 2-core
 * machine than closed loops), through one undici Pool, tallying every answer and failure.
 */

import { Pool } from 'undici'

export interface LoadTally {
  /** requests started */
  sent: number
  /** answers by status code */
  statuses: Record<number, number>
  /** answers by the x-upstream header (which test upstream served it) */
  upstreams: Record<string, number>
  /** requests that got no answer at all (reset, refused, broken body) */
  failures: number
  /** the first few failures and non-2xx answers, for the assertion message */
  problems: string[]
}

/** Answers with a status outside 2xx plus requests with no answer: what a client would call an error. */
export function clientErrors(tally: LoadTally): number {
  let n = tally.failures
  for (const [code, count] of Object.entries(tally.statuses)) if (Number(code) < 200 || Number(code) >= 300) n += count
  return n
}

export interface RunningLoad {
  tally: LoadTally
  /** stop early; `done` resolves once in-flight requests have finished */
  stop(): void
  done: Promise<LoadTally>
}

function newTally(): LoadTally {
  return { sent: 0, statuses: {}, upstreams: {}, failures: 0, problems: [] }
}

async function once(pool: Pool, path: string, tally: LoadTally): Promise<void> {
  tally.sent++
  try {
    const res = await pool.request({ path, method: 'GET' })
    await res.body.dump()
    tally.statuses[res.statusCode] = (tally.statuses[res.statusCode] ?? 0) + 1
    const up = res.headers['x-upstream']
    if (typeof up === 'string') tally.upstreams[up] = (tally.upstreams[up] ?? 0) + 1
    if ((res.statusCode < 200 || res.statusCode >= 300) && tally.problems.length < 5) tally.problems.push(`status ${res.statusCode}`)
  } catch (err) {
    tally.failures++
    if (tally.problems.length < 5) tally.problems.push(`no answer: ${(err as Error).message}`)
  }
}

/** GETs at a fixed rate for durationMs (at most maxInflight at once), to origin + path. */
export function pacedLoad(origin: string, options: { rate: number; durationMs: number; path?: string; maxInflight?: number }): RunningLoad {
  const pool = new Pool(origin, { connections: options.maxInflight ?? 64 })
  const tally = newTally()
  const path = options.path ?? '/'
  const maxInflight = options.maxInflight ?? 64
  const start = performance.now()
  let inflight = 0
  let stopped = false
  let timer: ReturnType<typeof setInterval> | undefined
  let resolveDone!: (t: LoadTally) => void
  const done = new Promise<LoadTally>((resolve) => (resolveDone = resolve))
  const finish = (): void => {
    if (!stopped) return
    if (inflight === 0) {
      void pool.close().then(() => resolveDone(tally))
    }
  }
  const stop = (): void => {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    finish()
  }
  // catch up on the schedule every tick, so a late timer does not lower the rate
  timer = setInterval(() => {
    const elapsed = performance.now() - start
    if (elapsed >= options.durationMs) return stop()
    const due = Math.floor((elapsed * options.rate) / 1000)
    while (tally.sent < due && inflight < maxInflight) {
      inflight++
      void once(pool, path, tally).then(() => {
        inflight--
        finish()
      })
    }
  }, 5)
  return { tally, stop, done }
}
