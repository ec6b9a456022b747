/**
 * The config rules of HTTP/2 and gRPC (issue 12): a node's h2 address (`h2c://host:port`
 * for Kong's `proxy_listen = 0.0.0.0:9080 http2`, `h2://host:port` for `9443 http2 ssl`)
 * and the gRPC statuses the gates count as failures.
 */

import { DEFAULT_GRPC_FAILURES, GRPC_CODES, grpcCodeOf, type GrpcCodeName } from '../h2/grpc-status.js'
import { itemPath, keyPath, type Problems } from './problems.js'
import { describe, type Rule } from './rules.js'
import { type Config, type H2Address, POOLS } from './types.js'

/** Parse `h2c://host:port` or `h2://host:port` (no path, query or credentials). */
export function parseH2Url(text: string): H2Address | string {
  const match = /^(h2c?):\/\/(.*)$/i.exec(text.trim())
  if (match === null) return `must be an h2c:// (plain text) or h2:// (TLS) URL, got ${JSON.stringify(text)}`
  const tls = match[1].toLowerCase() === 'h2'
  let url: URL
  try {
    // parsed as http(s) so WHATWG fills in the default port and checks the host
    url = new URL(`${tls ? 'https' : 'http'}://${match[2]}`)
  } catch {
    return `not a URL: ${JSON.stringify(text)}`
  }
  if (url.hostname === '') return 'has no host'
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password'
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(match[2])) return 'must not have a query or fragment'
  if (url.pathname !== '/' && url.pathname !== '') return `must not have a path, got ${url.pathname}`
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port)
  // host:port with an IPv6 host in brackets (addresses.ts's formatHostPort; not imported: addresses.ts imports this file)
  const hostPort = hostname.includes(':') ? `[${hostname}]:${port}` : `${hostname}:${port}`
  return { url: `${tls ? 'h2' : 'h2c'}://${hostPort}`, tls, hostname, port, authority: hostPort }
}

/** A node's h2 address. */
export const h2Url: Rule<H2Address> = (value, path, ctx) => {
  if (typeof value !== 'string') {
    ctx.problems.add(path, `expected an h2c:// or h2:// URL, got ${describe(value)}`)
    return undefined
  }
  const parsed = parseH2Url(value)
  if (typeof parsed === 'string') {
    ctx.problems.add(path, parsed)
    return undefined
  }
  return parsed
}

/** gates.grpc_failures: a list of gRPC status names (UNAVAILABLE) or codes (14), as names in code order. */
export const grpcFailures: Rule<GrpcCodeName[]> = (value, path, ctx) => {
  if (!Array.isArray(value)) {
    ctx.problems.add(path, `expected a list of gRPC status names such as [UNAVAILABLE, INTERNAL], got ${describe(value)}`)
    return undefined
  }
  let mask = 0
  let ok = true
  value.forEach((item, i) => {
    const code = grpcCodeOf(item)
    if (code === undefined) {
      ctx.problems.add(itemPath(path, i), `not a gRPC status: ${describe(item)} (one of ${GRPC_CODES.join(', ')}, or its code 0..16)`)
      ok = false
    } else if (code === 0) {
      ctx.problems.add(itemPath(path, i), 'OK is never a failure')
      ok = false
    } else {
      mask |= 1 << code
    }
  })
  return ok ? GRPC_CODES.filter((_, code) => (mask & (1 << code)) !== 0) : undefined
}

/** The YAML default of gates.grpc_failures. */
export const GRPC_FAILURES_DEFAULT: readonly string[] = DEFAULT_GRPC_FAILURES

/** The cross-key rule of issue 12: a gRPC probe needs every node's h2 address. */
export function h2Problems(config: Config, problems: Problems): void {
  if (config.health.active?.type !== 'grpc') return
  for (const pool of POOLS) {
    config.pools[pool].nodes.forEach((node, i) => {
      if (node.h2 === undefined) problems.add(itemPath(keyPath(keyPath('pools', pool), 'nodes'), i), `${node.url} has no h2 address for health.active.type grpc to probe (add h2: h2c://host:port)`)
    })
  }
}
