// When cutover judged each fuzzed request's deadline, for the judge's Timing (no tests here).
import type { Test } from 'tap'
import { Exchange } from '../../../src/forwarding/exchange.js'
import type { Timing } from './judge.js'

/**
 * Records, until t ends, when (performance.now()) cutover judged each request's deadline
 * (Exchange.expire), by the request id in its path; headsWhole is for the fuzz nodes to fill.
 */
export function recordDeadlines(t: Test): Timing & { headsWhole: Map<number, number> } {
  const expired = new Map<number, number>()
  const expire = Exchange.prototype.expire
  Exchange.prototype.expire = function (this: Exchange) {
    const id = /^\/r\/(\d+)/.exec(this.head.target)?.[1]
    if (id !== undefined) expired.set(Number(id), performance.now())
    expire.call(this)
  }
  t.teardown(() => {
    Exchange.prototype.expire = expire
  })
  return { headsWhole: new Map(), expired }
}
