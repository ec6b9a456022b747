/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP load balancer in
 * front (AWS NLB, HAProxy, F5, nginx's stream module) sends before a connection's first
 * byte, naming the client it accepted. A pure function over the bytes read so far: it says
 * whether the header is whole, how long it is and whose address it names, or what is wrong
 * with it. Nothing of it is trusted past its checks: the source address must be an IP
 * address of the family the header says, the header no longer than the spec allows.
 */

const net = process.getBuiltinModule('node:net')

/** v1: "PROXY " ... CRLF, at most 107 bytes with the CRLF (spec 2.1) */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
const V1_MAX = 107
/** v2: a 12-byte signature, then version and command, family and protocol, a 16-bit length */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V2_FIXED = 16
/** addresses and TLVs (AWS adds its endpoint id, HAProxy SSL facts): far under this in practice */
export const V2_MAX_LENGTH = 4096

export type ProxyHeaderResult =
  /** the bytes so far begin a header: read more */
  | { kind: 'more' }
  /** whole: `length` bytes to skip; `source` the client's address, or undefined when the header names none (LOCAL, UNKNOWN, UNSPEC, a unix socket): the connection's own peer stands */
  | { kind: 'done'; length: number; version: 1 | 2; source: string | undefined }
  | { kind: 'refused'; why: string }

const MORE: ProxyHeaderResult = { kind: 'more' }
const NOT_A_HEADER = 'the connection did not begin with a PROXY protocol header'

/**
 * buf begins with a whole PROXY protocol prefix ("PROXY " or v2's signature): on a listener
 * that expects none, the balancer in front sends one and cutover is not set to read it.
 */
export function beginsWithProxyHeader(buf: Buffer): boolean {
  return (buf.length >= V1_PREFIX.length && beginsWith(buf, V1_PREFIX)) || (buf.length >= V2_SIGNATURE.length && beginsWith(buf, V2_SIGNATURE))
}

/** Read a PROXY protocol header at the start of buf. */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return MORE
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf)
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf)
  return refused(NOT_A_HEADER)
}

function refused(why: string): ProxyHeaderResult {
  return { kind: 'refused', why }
}

/** buf begins with prefix, or with the part of it buf holds */
function beginsWith(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length)
  return buf.compare(prefix, 0, n, 0, n) === 0
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  if (!beginsWith(buf, V1_PREFIX)) return refused(NOT_A_HEADER)
  const end = buf.indexOf('\r\n', 0, 'latin1')
  if (end < 0 || end + 2 > V1_MAX) {
    if (buf.length < V1_MAX && buf.indexOf(0x0a) < 0) return MORE
    return refused(`PROXY v1 header: no CRLF within ${V1_MAX} bytes`)
  }
  const line = buf.toString('latin1', V1_PREFIX.length, end)
  const length = end + 2
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return { kind: 'done', length, version: 1, source: undefined }
  const parts = line.split(' ')
  if (parts.length !== 5) return refused(`PROXY v1 header: expected "TCP4|TCP6 SOURCE DEST SPORT DPORT", got ${JSON.stringify(line)}`)
  const [family, source, dest, sport, dport] = parts as [string, string, string, string, string]
  const want = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0
  if (want === 0) return refused(`PROXY v1 header: unknown protocol ${JSON.stringify(family)} (TCP4, TCP6 or UNKNOWN)`)
  if (net.isIP(source) !== want || net.isIP(dest) !== want) return refused(`PROXY v1 header: ${JSON.stringify(source)} and ${JSON.stringify(dest)} must be ${family} addresses`)
  if (!isPort(sport) || !isPort(dport)) return refused(`PROXY v1 header: ports must be 0-65535, got ${JSON.stringify(sport)} and ${JSON.stringify(dport)}`)
  return { kind: 'done', length, version: 1, source }
}

/** a decimal port without a leading zero (spec 2.1) */
function isPort(s: string): boolean {
  return /^(0|[1-9][0-9]{0,4})$/.test(s) && Number(s) <= 65535
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  if (!beginsWith(buf, V2_SIGNATURE)) return refused(NOT_A_HEADER)
  if (buf.length < V2_FIXED) return MORE
  const versionCommand = buf[12]!
  if (versionCommand >> 4 !== 2) return refused(`PROXY v2 header: version ${versionCommand >> 4}, not 2`)
  const command = versionCommand & 0x0f
  if (command > 1) return refused(`PROXY v2 header: unknown command ${command} (LOCAL or PROXY)`)
  const family = buf[13]! >> 4
  const transport = buf[13]! & 0x0f
  const body = buf.readUInt16BE(14)
  if (body > V2_MAX_LENGTH) return refused(`PROXY v2 header: ${body} bytes of addresses, more than ${V2_MAX_LENGTH}`)
  if (family > 3 || transport > 2) return refused(`PROXY v2 header: unknown address family or protocol byte 0x${buf[13]!.toString(16)}`)
  const length = V2_FIXED + body
  if (buf.length < length) return MORE
  // LOCAL: the balancer's own connection (a health check); UNSPEC or a unix socket: no IP to name
  if (command === 0 || family === 0 || family === 3) return { kind: 'done', length, version: 2, source: undefined }
  if (family === 1) {
    if (body < 12) return refused(`PROXY v2 header: ${body} bytes cannot hold IPv4 addresses (12)`)
    return { kind: 'done', length, version: 2, source: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}` }
  }
  if (body < 36) return refused(`PROXY v2 header: ${body} bytes cannot hold IPv6 addresses (36)`)
  return { kind: 'done', length, version: 2, source: ipv6(buf, V2_FIXED) }
}

/** The 16 bytes at offset as RFC 5952 text: lower-case hex, the longest run of two or more zero groups as `::`. */
export function ipv6(buf: Buffer, offset: number): string {
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + 2 * i))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':')
  if (bestStart < 0) return hex(0, 8)
  // an IPv4-mapped address reads as ::ffff:a.b.c.d, as Node writes a peer's
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) return `::ffff:${buf[offset + 12]}.${buf[offset + 13]}.${buf[offset + 14]}.${buf[offset + 15]}`
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`
}
