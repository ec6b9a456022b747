/** Which pool a request goes to (SPEC 4.1): override header, then sticky key, then chance. */

import type { IncomingHttpHeaders } from 'node:http'
import type { Random } from '../clock.js'
import type { PoolName } from '../config/types.js'
import { stickyBucket, stickyBucketOf } from './sticky.js'
import type { RoutingTable } from './table.js'

/** Pick x or y for one request; pure, allocation-free. */
export function pickPool(table: RoutingTable, headers: IncomingHttpHeaders, remoteAddress: string | undefined, random: Random): PoolName {
  const bp = table.yBasisPoints
  if (table.overrideHeader !== undefined) {
    const forced = overridePool(headers[table.overrideHeader])
    if (forced !== undefined) return forced
  }
  // nothing to decide: skip the key lookup and the draw
  if (bp <= 0) return 'x'
  if (bp >= 10000) return 'y'
  const sticky = table.sticky
  if (sticky !== undefined) {
    const bucket = stickyBucketFor(table, headers, remoteAddress)
    if (bucket >= 0) return bucket < bp ? 'y' : 'x'
  }
  return random() * 10000 < bp ? 'y' : 'x'
}

/** x or y when value says so (case-insensitive), else undefined. */
function overridePool(value: string | string[] | undefined): PoolName | undefined {
  if (typeof value !== 'string' || value.length !== 1) return undefined
  const c = value.charCodeAt(0) | 0x20
  if (c === 0x78) return 'x'
  if (c === 0x79) return 'y'
  return undefined
}

/** The sticky key's bucket, or -1 when the request has no key. */
function stickyBucketFor(table: RoutingTable, headers: IncomingHttpHeaders, remoteAddress: string | undefined): number {
  const sticky = table.sticky!
  if (sticky.header !== undefined) {
    const value = headers[table.stickyHeader ?? sticky.header.toLowerCase()]
    if (typeof value === 'string') return value.length > 0 ? stickyBucket(value) : -1
    if (Array.isArray(value) && value.length > 0) return stickyBucket(value[0])
    return -1
  }
  if (sticky.cookie !== undefined) {
    const cookie = headers.cookie
    return typeof cookie === 'string' ? cookieBucket(cookie, sticky.cookie) : -1
  }
  if (sticky.ip === true && remoteAddress) return stickyBucket(remoteAddress)
  return -1
}

/** Bucket of the value of cookie `name` in a Cookie header, or -1; no substring is made. */
export function cookieBucket(header: string, name: string): number {
  const n = name.length
  let i = 0
  while (i < header.length) {
    // skip the separator's spaces
    while (header.charCodeAt(i) === 0x20) i++
    let end = header.indexOf(';', i)
    if (end < 0) end = header.length
    if (end - i > n && header.charCodeAt(i + n) === 0x3d && header.startsWith(name, i)) {
      let start = i + n + 1
      let stop = end
      while (stop > start && header.charCodeAt(stop - 1) === 0x20) stop--
      // a quoted value hashes like the bare one
      if (stop - start >= 2 && header.charCodeAt(start) === 0x22 && header.charCodeAt(stop - 1) === 0x22) {
        start++
        stop--
      }
      return stop > start ? stickyBucketOf(header, start, stop) : -1
    }
    i = end + 1
  }
  return -1
}
