/**
 * The event loop's thread first: V8's helper threads (concurrent compiles, GC marking and
 * sweeping) and libuv's pool run at the lowest priority (nice 19), so on a busy core they
 * take the time the event loop leaves idle instead of cutting into it. Measured on a core
 * shared with them (bench/README.md, "rate-p99: what held requests up"): a concurrent compile took the core
 * for 1-4 ms at a time, and every request arriving meanwhile waited for it.
 *
 * Linux only (there a thread id names one thread for setpriority(2)); raising a nice value
 * needs no privilege.
 */

const { readdirSync } = process.getBuiltinModule('node:fs')
const { setPriority } = process.getBuiltinModule('node:os')

export const HELPER_NICE = 19

/**
 * Lower every thread of this process but the event loop's (whose id is the pid) to
 * HELPER_NICE. Returns the number of threads lowered; threads started later (libuv's pool
 * starts on first use) keep the default.
 */
export function lowerHelperThreads(platform: string = process.platform, taskDir = '/proc/self/task', pid: number = process.pid): number {
  if (platform !== 'linux') return 0
  let lowered = 0
  let tids: string[]
  try {
    tids = readdirSync(taskDir)
  } catch {
    return 0
  }
  for (const name of tids) {
    const tid = Number(name)
    if (!Number.isInteger(tid) || tid <= 0 || tid === pid) continue
    try {
      setPriority(tid, HELPER_NICE)
      lowered++
    } catch {
      // a thread that ended since the listing, or a system that refuses: it keeps its priority
    }
  }
  return lowered
}
