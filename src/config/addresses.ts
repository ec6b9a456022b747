/**
 * Network addresses in the config: `host:port` listeners, upstream node URLs and the
 * webhook URL, each parsed once into the shape the rest of cutover connects with.
 */

import type { H2Address, HostPort, NodeConfig } from './types.js'
import { h2Url } from './h2.js'
import { describe, field, isPlainObject, number, object, string, type Ctx, type Rule } from './rules.js'

const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/

/** `host:port` or `[v6]:port` to { host, port }; undefined when it is neither. */
export function parseListen(text: string): HostPort | undefined {
  const match = LISTEN.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  return { host: match[1] ?? match[2], port }
}

/** `host:port` with IPv6 hosts in brackets. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** A listener address; port 0 asks the system for a free port. */
export const listen: Rule<HostPort> = (value, path, ctx) => {
  const parsed = typeof value === 'string' ? parseListen(value) : undefined
  if (parsed === undefined) ctx.problems.add(path, `expected host:port with a port from 0 to 65535 (e.g. 0.0.0.0:8080 or [::1]:8080), got ${describe(value)}`)
  return parsed
}

type UrlProblem = string

/** Parse an http(s) URL that names a server only: no credentials, query, fragment or path. */
export function parseServerUrl(text: string): URL | UrlProblem {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return `not a URL: ${JSON.stringify(text)}`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http: or https: URL, got ${url.protocol}`
  if (url.hostname === '') return 'has no host'
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password'
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(text)) return 'must not have a query or fragment'
  if (url.pathname !== '/' && url.pathname !== '') return `must not have a path, got ${url.pathname}`
  return url
}

/** The NodeConfig of a server URL: url == origin without a trailing slash, name as given or host:port. */
export function toNodeConfig(url: URL, weight: number, name?: string, h2?: H2Address): NodeConfig {
  const protocol = url.protocol as 'http:' | 'https:'
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port)
  // WHATWG keeps IPv6 brackets in hostname; sockets want the bare address
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const config: NodeConfig = { url: url.origin, origin: url.origin, name: name ?? formatHostPort({ host: hostname, port }), protocol, hostname, port, weight }
  if (h2 !== undefined) config.h2 = h2
  return config
}

const nodeUrl: Rule<URL> = (value, path, ctx) => {
  if (typeof value !== 'string') {
    ctx.problems.add(path, `not a URL: ${describe(value)}`)
    return undefined
  }
  const parsed = parseServerUrl(value)
  if (typeof parsed === 'string') {
    ctx.problems.add(path, parsed)
    return undefined
  }
  return parsed
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,62}$/

/** A node's display name (events, API, console, the `node` metric label): short and plain. */
const nodeName: Rule<string> = (value, path, ctx) => {
  const text = string()(value, path, ctx)
  if (text === undefined) return undefined
  if (NODE_NAME.test(text)) return text
  ctx.problems.add(path, `must be 1 to 63 letters, digits, or . _ : @ - (starting with a letter or digit), got ${describe(value)}`)
  return undefined
}

const nodeObject = object({
  url: field(nodeUrl, { required: true }),
  name: field(nodeName),
  weight: field(number({ above: 0, max: 1000 }), { default: 1 }),
  // extension (issue 12): the node's HTTP/2 listener (Kong's `proxy_listen ... http2`)
  h2: field(h2Url),
})

/** An upstream node: a URL string, or { url, name, weight, h2 } with weight in (0, 1000]. */
export const node: Rule<NodeConfig> = (value, path, ctx: Ctx) => {
  if (isPlainObject(value)) {
    const out = nodeObject(value, path, ctx)
    if (out?.url === undefined || out.weight === undefined) return undefined
    return toNodeConfig(out.url as URL, out.weight as number, out.name as string | undefined, out.h2 as H2Address | undefined)
  }
  const url = nodeUrl(value, path, ctx)
  return url === undefined ? undefined : toNodeConfig(url, 1)
}

/** An http(s) URL to send to (the webhook); any path and query are kept. */
export const httpUrl: Rule<string> = (value, path, ctx) => {
  const text = string()(value, path, ctx)
  if (text === undefined) return undefined
  try {
    const url = new URL(text)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href
    ctx.problems.add(path, `must be an http: or https: URL, got ${url.protocol}`)
  } catch {
    ctx.problems.add(path, `not a URL: ${JSON.stringify(text)}`)
  }
  return undefined
}
