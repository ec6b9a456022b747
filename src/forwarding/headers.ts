/**
 * Header rewriting both ways, on flat [name, value, name, value, ...] arrays that keep the
 * sender's case, order and duplicates. Names are compared without lower-casing copies.
 */

import type { IncomingMessage } from 'node:http'

// what a header name is to us; 0 = an ordinary header that passes through
const PASS = 0
const HOP = 1
const HOST = 2
const XFF = 3
const XF_SET = 4 // X-Forwarded-Proto / -Host: cutover sets them
const CONNECTION = 5
const CONTENT_LENGTH = 6
const UPGRADE = 7

/** a equals the lower-case constant b, ignoring ASCII case. */
function eq(a: string, b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    if ((a.charCodeAt(i) | 0x20) !== b.charCodeAt(i)) return false
  }
  return true
}

/** Classify a request header name (length first, so most names cost one switch). */
function requestKind(name: string): number {
  switch (name.length) {
    case 2:
      return eq(name, 'te') ? HOP : PASS
    case 4:
      return eq(name, 'host') ? HOST : PASS
    case 6:
      // undici refuses Expect; Node already answered 100-continue to the client
      return eq(name, 'expect') ? HOP : PASS
    case 7:
      if (eq(name, 'upgrade')) return UPGRADE
      return eq(name, 'trailer') ? HOP : PASS
    case 10:
      if (eq(name, 'connection')) return CONNECTION
      return eq(name, 'keep-alive') ? HOP : PASS
    case 14:
      return eq(name, 'content-length') ? CONTENT_LENGTH : PASS
    case 15:
      return eq(name, 'x-forwarded-for') ? XFF : PASS
    case 16:
      if (eq(name, 'proxy-connection')) return HOP
      return eq(name, 'x-forwarded-host') ? XF_SET : PASS
    case 17:
      if (eq(name, 'transfer-encoding')) return HOP
      return eq(name, 'x-forwarded-proto') ? XF_SET : PASS
    default:
      return PASS
  }
}

/** Header names listed in a Connection value, beyond the usual close/keep-alive/upgrade. */
function connectionNames(value: string, into: string[] | undefined): string[] | undefined {
  let start = 0
  while (start <= value.length) {
    let end = value.indexOf(',', start)
    if (end < 0) end = value.length
    const token = value.slice(start, end).trim().toLowerCase()
    if (token !== '' && token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') {
      ;(into ??= []).push(token)
    }
    start = end + 1
  }
  return into
}

function isNamed(name: string, names: string[] | undefined): boolean {
  if (names === undefined) return false
  for (let i = 0; i < names.length; i++) {
    if (names[i].length === name.length && eq(name, names[i])) return true
  }
  return false
}

/** The client's address as X-Forwarded-For shows it (IPv4-mapped IPv6 as plain IPv4). */
export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? ''
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a
}

/**
 * The upstream request headers from req.rawHeaders: hop-by-hop ones dropped (Upgrade and
 * Connection: Upgrade kept when upgrade is true), Host kept, X-Forwarded-* set.
 */
export function upstreamRequestHeaders(req: IncomingMessage, https: boolean, upgrade = false): string[] {
  const raw = req.rawHeaders
  let named: string[] | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && eq(raw[i], 'connection')) named = connectionNames(raw[i + 1], named)
  }
  const out: string[] = []
  let host: string | undefined
  let xff: string | undefined
  let upgradeValue: string | undefined
  let hasLength = false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    const value = raw[i + 1]
    switch (requestKind(name)) {
      case PASS:
        if (!isNamed(name, named)) out.push(name, value)
        break
      case HOST:
        // undici refuses a second Host; Node keeps the first as req.headers.host too
        if (host === undefined) {
          host = value
          out.push(name, value)
        }
        break
      case CONTENT_LENGTH:
        if (!hasLength) {
          hasLength = true
          out.push(name, value)
        }
        break
      case XFF:
        xff = xff === undefined ? value : `${xff}, ${value}`
        break
      case UPGRADE:
        upgradeValue ??= value
        break
      default:
        // HOP, CONNECTION, XF_SET
        break
    }
  }
  const client = clientAddress(req)
  out.push('X-Forwarded-For', xff === undefined || xff === '' ? client : `${xff}, ${client}`)
  out.push('X-Forwarded-Proto', https ? 'https' : 'http')
  if (host !== undefined) out.push('X-Forwarded-Host', host)
  if (upgrade && upgradeValue !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgradeValue)
  return out
}

/** Classify a response header name: true when it is hop-by-hop. */
function responseHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return eq(name, 'te')
    case 7:
      return eq(name, 'upgrade') || eq(name, 'trailer')
    case 10:
      return eq(name, 'connection') || eq(name, 'keep-alive')
    case 16:
      return eq(name, 'proxy-connection')
    case 17:
      return eq(name, 'transfer-encoding')
    default:
      return false
  }
}

/**
 * The client response headers from undici's raw Buffer pairs, hop-by-hop ones dropped
 * (Node frames the body again); repeated headers such as Set-Cookie stay repeated.
 */
export function clientResponseHeaders(raw: Buffer[]): string[] {
  const out: string[] = []
  let named: string[] | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1')
    const value = raw[i + 1].toString('latin1')
    if (responseHop(name)) {
      if (name.length === 10 && eq(name, 'connection')) named = connectionNames(value, named)
      continue
    }
    out.push(name, value)
  }
  if (named === undefined) return out
  // rare: the upstream named more hop-by-hop headers in its Connection header
  const kept: string[] = []
  for (let i = 0; i < out.length; i += 2) if (!isNamed(out[i], named)) kept.push(out[i], out[i + 1])
  return kept
}
