/**
 * Seeded generator of HTTP/1.1 byte streams for the differential test: mostly well-formed
 * requests and responses, each part mutated now and then by one of the classes the codec
 * contract's refusal rules name (CL+TE, repeated CL, odd TE lists, TE on 1.0, bare CR/LF,
 * obs-fold, space before colon, bad token characters, control characters, bad chunk sizes,
 * missing CRLF after chunk data, trailers, pipelining, oversized heads, odd versions and
 * targets, ...). The same seed gives the same cases on every machine and Node version.
 */
import { seededRandom } from '../../../src/clock.js'
import type { Random } from '../../../src/clock.js'

export interface Case {
  /** seed and index: `--seed S` and this index rebuild it */
  id: string
  mode: 'request' | 'response'
  bytes: Buffer
  /** response mode: the method of the request each response answers */
  requestMethods: string[]
  /** mutation classes applied, for the summary and for reading a failure */
  tags: string[]
  /** replay split points (see adapter.ts) */
  splits: number[]
}

export interface GeneratorOptions {
  maxHeadSize: number
}

class Gen {
  readonly tags: string[] = []
  /** a clean case has no mutation at all; about half the cases are clean */
  readonly mutating: boolean
  constructor(
    readonly random: Random,
    readonly options: GeneratorOptions,
  ) {
    this.mutating = random() < 0.5
  }

  int(n: number): number {
    return Math.floor(this.random() * n)
  }
  chance(p: number): boolean {
    return this.random() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }
  /** With probability p, record tag and return the mutated value, else the plain one. */
  maybe<T>(p: number, tag: string, plain: T, mutated: () => T): T {
    if (!this.chance(p) || !this.mutating) return plain
    this.tags.push(tag)
    return mutated()
  }
  bytes(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)]
    return s
  }
}

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']
// every method Node knows, RTSP ones llhttp knows only in RTSP mode, and plain garbage
const ODD_METHODS = [
  ...'ACL BIND CHECKOUT CONNECT COPY LINK LOCK M-SEARCH MERGE MKACTIVITY MKCALENDAR MKCOL MOVE NOTIFY PROPFIND PROPPATCH PURGE QUERY REBIND REPORT SEARCH SOURCE SUBSCRIBE TRACE UNBIND UNLINK UNLOCK UNSUBSCRIBE'.split(
    ' ',
  ),
  ...'DESCRIBE ANNOUNCE SETUP PLAY PAUSE TEARDOWN GET_PARAMETER SET_PARAMETER REDIRECT RECORD FLUSH'.split(' '),
  'get',
  'Get',
  'FOO',
  'BREW',
  'GE T',
  'G\x00T',
  'GET\t',
  '',
  'POST/',
  'GÉT',
  'PRI',
  'HEADX',
  'GETT',
  'POS',
  'DELET',
  'M-SEARC',
  'PROPFINDX',
]
const TARGETS = ['/', '/', '/api/v1/users?id=42&x=y', '/a/b/c.json', '/x?q=%20a', '/?', '/%2e%2e/etc']
const ODD_TARGETS = [
  '*',
  'http://example.com/x',
  'https://h:8443/p?q',
  'example.com:443',
  '//x',
  'a',
  '/a b',
  '/a\tb',
  '/\x7f',
  '/\x00',
  '/\x80\xff',
  '/a#frag',
  '/a"b',
  '/{x}',
  '/a|b',
  '/a\\b',
  '/^',
  '/`',
  '/é',
  'HTTP://a/',
  'http://a',
  'http://a:80',
  'http://u@a/',
  'http://[::1]/',
  'ftp://a/',
  'http:/a',
  'http://a b/',
  '/a?b c',
  '/a\rb',
  '/%zz',
  '/a?#',
]
const VERSIONS_ODD = [
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.10',
  'http/1.1',
  'HTTP/11',
  'HTTP/1',
  'HTTP/1.1 ',
  'HTTP/ 1.1',
  'HTTP/3.0',
  'HTTPS/1.1',
  'HTTP/1.a',
  'HTTP/9.9',
  'RTSP/1.0',
  'ICE/1.0',
  '',
]

const NAMES = ['Accept', 'User-Agent', 'Accept-Encoding', 'Cookie', 'X-Request-Id', 'Content-Type', 'Authorization', 'X-Forwarded-For', 'Cache-Control', 'If-None-Match', 'Via', 'Kong-Debug']
const BAD_NAME_CHARS = ['(', ')', '<', '>', '@', ',', ';', '\\', '"', '/', '[', ']', '?', '=', '{', '}', ' ', '\t', '\x00', '\x01', '\x7f', '\x80', '\xff', 'é']
const CONTROL = ['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x0e', '\x1b', '\x1f', '\x7f']

/** Content-Length values, right or wrong, for a body of n bytes. */
function contentLength(g: Gen, n: number): string {
  return g.maybe(0.15, 'cl-odd', String(n), () =>
    g.pick([
      `+${n}`,
      `-${n}`,
      ` ${n}`,
      `${n} `,
      `0${n}`,
      `00`,
      `0x${n.toString(16)}`,
      `${n}a`,
      `${n}, ${n}`,
      `${n},${n}`,
      `${n}, ${n + 1}`,
      '',
      ' ',
      `${n}.0`,
      '99999999999999999999',
      '18446744073709551616',
      '9007199254740993',
      `${n}\t`,
      `\t${n}`,
      `${n} ${n}`,
      `1_0`,
      `${n}\x00`,
      '-0',
      `0${n}`,
    ]),
  )
}

/** A Transfer-Encoding value: almost always `chunked`, sometimes a smuggling favourite. */
function transferEncoding(g: Gen): string {
  return g.maybe(0.3, 'te-odd', 'chunked', () =>
    g.pick([
      'Chunked',
      'CHUNKED',
      'chunked ',
      ' chunked',
      'xchunked',
      'chunkedx',
      'chunked, chunked',
      'gzip, chunked',
      'chunked, gzip',
      'identity',
      'identity, chunked',
      '',
      ',chunked',
      'chunked,',
      ', chunked',
      'chunked;a=b',
      'chunked\t',
      '\tchunked',
      'chu nked',
      'chunked\x00',
      '"chunked"',
      'deflate',
      'gzip,chunked',
      'gzip ,chunked',
      'chunked\x0b',
      'chunked\x0c',
      'cHuNkEd',
    ]),
  )
}

/** A chunked body carrying payload, with chunk-level mutations. */
function chunkedBody(g: Gen, payload: string): string {
  let out = ''
  let rest = payload
  while (rest.length > 0) {
    // mostly small chunks (many size lines), now and then a big one (multi-digit hex sizes)
    const size = Math.min(rest.length, g.chance(0.1) ? 256 + g.int(4096) : 1 + g.int(12))
    const data = rest.slice(0, size)
    rest = rest.slice(size)
    let sizeText = g.chance(0.5) ? size.toString(16) : size.toString(16).toUpperCase()
    sizeText = g.maybe(0.06, 'chunk-size-odd', sizeText, () =>
      g.pick([
        `0x${sizeText}`,
        `+${sizeText}`,
        `-${sizeText}`,
        ` ${sizeText}`,
        `${sizeText} `,
        `${sizeText}\t`,
        `000${sizeText}`,
        `${sizeText}g`,
        `${sizeText}_`,
        '',
        `0000000000000000${sizeText}`,
        `fffffffffffffffff${sizeText}`,
      ]),
    )
    const ext = g.maybe(0.08, 'chunk-ext', '', () => g.pick([';a=b', ';a', ';', ';a="q"', ';a="q\\"x"', '; a=b', ' ;a=b', ';a=b c', ';a=\x01', ';a=b;c=d', ';=b', ';a="unterminated', ';a\x7f']))
    const sizeEnd = g.maybe(0.04, 'chunk-size-line-end', '\r\n', () => g.pick(['\n', '\r', '\r\r\n', ' \r\n']))
    let dataText = data
    dataText = g.maybe(0.03, 'chunk-data-length', dataText, () => g.pick([dataText + 'X', dataText.slice(1)]))
    const dataEnd = g.maybe(0.04, 'chunk-data-end', '\r\n', () => g.pick(['', '\n', '\r', 'X\r\n', '\r\r\n']))
    out += sizeText + ext + sizeEnd + dataText + dataEnd
  }
  const lastExt = g.maybe(0.05, 'last-chunk-ext', '', () => g.pick([';a=b', ';', '; a']))
  const lastSize = g.maybe(0.04, 'last-chunk-size', '0', () => g.pick(['00', '000000', '0 ', ' 0', '+0', '-0', '0x0']))
  out += lastSize + lastExt + '\r\n'
  const trailers = g.maybe(0.12, 'trailers', '', () =>
    g.pick([
      'X-Checksum: abc\r\n',
      'X-A: 1\r\nX-B: 2\r\n',
      'Content-Length: 5\r\n',
      'Transfer-Encoding: chunked\r\n',
      'Host: evil\r\n',
      'X-A : b\r\n',
      'X-A: b\r\n c\r\n',
      'X-A: \x01\r\n',
      'X-A\r\n',
      'X-A: b\n',
      ': b\r\n',
      'X-Long: ' + 'v'.repeat(200) + '\r\n',
      'X-Huge: ' + 'v'.repeat(g.options.maxHeadSize) + '\r\n',
      'Connection: close\r\n',
      'Connection: keep-alive\r\n',
      'Proxy-Connection: close\r\n',
      'Connection: upgrade\r\nUpgrade: websocket\r\n',
      'Trailer: X\r\n',
    ]),
  )
  out += trailers
  out += g.maybe(0.04, 'chunked-final-crlf', '\r\n', () => g.pick(['', '\n', '\r', 'X\r\n']))
  return out
}

/** A header line (name, separator, value, line end) with line-level mutations. */
function headerLine(g: Gen, name: string, value: string): string {
  let n = g.maybe(0.05, 'name-case', name, () => g.pick([name.toLowerCase(), name.toUpperCase()]))
  n = g.maybe(0.02, 'name-bad-char', n, () => {
    const at = g.int(n.length + 1)
    return n.slice(0, at) + g.pick(BAD_NAME_CHARS) + n.slice(at)
  })
  n = g.maybe(0.005, 'name-empty', n, () => '')
  // a line that is only a name: no colon at all
  if (g.maybe(0.004, 'name-no-colon', false, () => true)) return `${n}\r\n`
  const sep = g.maybe(0.04, 'separator', ': ', () => g.pick([':', ':\t', ':  ', ' :', '\t:', ' : ', '::', ':\x0b', ': \t ']))
  let v = value
  v = g.maybe(0.03, 'value-ows', v, () => g.pick([` ${v}`, `${v} `, `${v}\t`, `\t${v} \t`]))
  v = g.maybe(0.02, 'value-control', v, () => {
    const at = g.int(v.length + 1)
    return v.slice(0, at) + g.pick(CONTROL) + v.slice(at)
  })
  v = g.maybe(0.01, 'value-obs-text', v, () => v + '\x80\xe9\xff')
  v = g.maybe(0.01, 'value-bare-cr', v, () => v.slice(0, 1) + '\r' + v.slice(1))
  v = g.maybe(0.01, 'value-bare-lf', v, () => v.slice(0, 1) + '\n' + v.slice(1))
  const fold = g.maybe(0.01, 'obs-fold', '', () => g.pick(['\r\n folded', '\r\n\tfolded', '\r\n ']))
  const end = g.maybe(0.015, 'line-end', '\r\n', () => g.pick(['\n', '\r', '\r\r\n', '\n\r']))
  return `${n}${sep}${v}${fold}${end}`
}

/** One request, head and body, as latin1 text. */
function request(g: Gen): string {
  const method = g.maybe(0.05, 'method-odd', g.pick(METHODS), () => g.pick(ODD_METHODS))
  let target = g.maybe(0.06, 'target-odd', g.pick(TARGETS), () => g.pick(ODD_TARGETS))
  target = g.maybe(0.01, 'target-long', target, () => '/' + g.bytes(200 + g.int(2000)))
  const version = g.maybe(0.04, 'version-odd', g.chance(0.85) ? 'HTTP/1.1' : 'HTTP/1.0', () => g.pick(VERSIONS_ODD))
  const sp1 = g.maybe(0.015, 'request-line-space', ' ', () => g.pick(['  ', '\t', '']))
  const sp2 = g.maybe(0.015, 'request-line-space', ' ', () => g.pick(['  ', '\t', '']))
  const lineEnd = g.maybe(0.015, 'line-end', '\r\n', () => g.pick(['\n', '\r', ' \r\n']))
  let head = g.maybe(0.01, 'leading-crlf', '', () => '\r\n') + `${method}${sp1}${target}${sp2}${version}${lineEnd}`

  const lines: string[] = []
  // Host first, mostly; sometimes missing, twice, or odd
  const host = g.maybe(0.04, 'host-odd', 'example.com', () => g.pick(['', 'a b', 'h:99999', 'a, b', 'example.com:8080', '[::1]:80', 'é.com', 'h\x01']))
  if (!g.maybe(0.03, 'host-missing', false, () => true)) lines.push(headerLine(g, 'Host', host))
  if (g.maybe(0.02, 'host-duplicate', false, () => true)) lines.push(headerLine(g, g.pick(['Host', 'host']), g.pick([host, 'other'])))
  const extra = g.int(5)
  for (let i = 0; i < extra; i++) lines.push(headerLine(g, g.pick(NAMES), g.chance(0.1) ? '' : g.bytes(1 + g.int(30), 'abcdefghijklmnopqrstuvwxyz0123456789-_.;=,/ ')))
  if (g.maybe(0.01, 'value-long', false, () => true)) lines.push(headerLine(g, 'X-Long', g.bytes(1000 + g.int(3000))))
  if (g.maybe(0.01, 'many-headers', false, () => true)) for (let i = 0; i < 40 + g.int(60); i++) lines.push(`X-H${i}: ${i}\r\n`)

  // connection management
  if (g.chance(0.15))
    lines.push(
      headerLine(
        g,
        'Connection',
        g.pick([
          'keep-alive',
          'close',
          'Keep-Alive',
          'CLOSE',
          'upgrade',
          'Upgrade',
          'keep-alive, upgrade',
          'close, upgrade',
          'foo',
          'te',
          'upgrade, close',
          'foo,close',
          'close,foo',
          ' close ,',
          'closed',
          'xclose',
          'keep-alivex',
          'close keep-alive',
          'keep-alive,close',
          ',,close',
          'upgrade,',
          'Upgrade, Keep-Alive',
          'close;x',
          '"close"',
        ]),
      ),
    )
  // llhttp reads Proxy-Connection as a second Connection header
  if (g.chance(0.03)) lines.push(headerLine(g, g.pick(['Proxy-Connection', 'proxy-connection']), g.pick(['keep-alive', 'close', 'upgrade', 'Keep-Alive'])))
  if (g.chance(0.05)) lines.push(headerLine(g, 'Upgrade', g.pick(['websocket', 'h2c', 'foo/1'])))
  if (g.chance(0.05)) lines.push(headerLine(g, 'Expect', g.pick(['100-continue', '100-Continue', 'foo'])))

  // framing
  const payload = g.bytes(g.chance(0.2) ? 0 : 1 + g.int(g.chance(0.1) ? (g.chance(0.2) ? 6000 : 300) : 24))
  let body = ''
  const framing = g.pick(['none', 'none', 'length', 'length', 'chunked', 'chunked'])
  const both = g.maybe(0.05, 'cl+te', false, () => true)
  if (framing === 'length' || both) {
    lines.push(headerLine(g, 'Content-Length', contentLength(g, payload.length)))
    if (g.maybe(0.03, 'cl-duplicate', false, () => true)) lines.push(headerLine(g, g.pick(['Content-Length', 'content-length']), g.pick([String(payload.length), String(payload.length + 1)])))
    if (!both) body = payload
  }
  if (framing === 'chunked' || both) {
    lines.push(
      headerLine(
        g,
        g.maybe(0.03, 'te-name', 'Transfer-Encoding', () => g.pick(['transfer-encoding', 'Transfer_Encoding', 'Transfer-Encoding ', 'TRANSFER-ENCODING', 'Transfer-encoding'])),
        transferEncoding(g),
      ),
    )
    if (g.maybe(0.03, 'te-duplicate', false, () => true)) lines.push(headerLine(g, 'Transfer-Encoding', g.pick(['chunked', 'identity', 'gzip'])))
    body = chunkedBody(g, payload)
  }
  if (framing === 'none' && g.maybe(0.03, 'body-without-framing', false, () => true)) body = payload
  // shuffle the lines now and then: order must survive, whatever it is
  if (g.chance(0.1)) lines.reverse()
  head += lines.join('')
  head += g.maybe(0.015, 'head-end', '\r\n', () => g.pick(['\n', '\r', '\r\r\n', ' \r\n', '\r\n\r\n']))
  return head + body
}

/** One response to a request made with `method`, head and body. */
function response(g: Gen, method: string): string {
  const status = g.maybe(0.08, 'status-odd', g.pick([200, 200, 200, 201, 204, 206, 301, 304, 400, 404, 500, 503, 100, 103]), () => g.pick([101, 99, 199, 299, 599, 600, 999, 0, 1000]))
  const statusText = g.maybe(0.02, 'status-text-odd', String(status).padStart(3, '0'), () => g.pick(['20', '2000', '2x0', ' 200', '-200']))
  const version = g.maybe(0.03, 'version-odd', g.chance(0.9) ? 'HTTP/1.1' : 'HTTP/1.0', () => g.pick(VERSIONS_ODD))
  const reason = g.maybe(0.05, 'reason-odd', g.pick(['OK', 'Not Found', 'Whatever You Like', '']), () => g.pick(['', ' ', 'a\x01b', 'caf\xe9', 'a\tb', 'with  spaces', 'a\x7f']))
  const noReasonSpace = g.maybe(0.02, 'no-reason-space', false, () => true)
  const lineEnd = g.maybe(0.015, 'line-end', '\r\n', () => g.pick(['\n', '\r']))
  let head = `${version} ${statusText}${noReasonSpace ? '' : ' ' + reason}${lineEnd}`
  const lines: string[] = []
  const extra = g.int(5)
  for (let i = 0; i < extra; i++) lines.push(headerLine(g, g.pick(['Server', 'Date', 'Content-Type', 'ETag', 'Set-Cookie', 'Via', 'X-Kong-Upstream-Latency']), g.bytes(1 + g.int(20))))
  if (g.chance(0.15)) lines.push(headerLine(g, g.chance(0.2) ? 'Proxy-Connection' : 'Connection', g.pick(['keep-alive', 'close', 'upgrade'])))
  if (status === 101 || g.chance(0.03)) lines.push(headerLine(g, 'Upgrade', 'websocket'))
  const payload = g.bytes(g.chance(0.2) ? 0 : 1 + g.int(g.chance(0.05) ? 6000 : 40))
  const framing = g.pick(['length', 'length', 'chunked', 'chunked', 'close'])
  const both = g.maybe(0.05, 'cl+te', false, () => true)
  let body = ''
  if (framing === 'length' || both) {
    lines.push(headerLine(g, 'Content-Length', contentLength(g, payload.length)))
    if (g.maybe(0.03, 'cl-duplicate', false, () => true)) lines.push(headerLine(g, 'Content-Length', g.pick([String(payload.length), String(payload.length + 1)])))
    body = payload
  }
  if (framing === 'chunked' || both) {
    lines.push(headerLine(g, 'Transfer-Encoding', transferEncoding(g)))
    body = chunkedBody(g, payload)
  }
  if (framing === 'close') body = payload
  head += lines.join('') + g.maybe(0.015, 'head-end', '\r\n', () => g.pick(['\n', '\r']))
  // a HEAD answer or a 1xx/204/304 carries no body, whatever its headers say
  if (method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) {
    if (!g.maybe(0.1, 'body-where-none', false, () => true)) body = ''
  }
  return head + body
}

/** Case number `index` of the run seeded `seed`. */
export function generate(seed: number, index: number, options: GeneratorOptions): Case {
  // one PRNG per case, so any case can be rebuilt alone from (seed, index)
  const g = new Gen(seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0), options)
  const mode = g.chance(0.75) ? 'request' : 'response'
  let text = ''
  const requestMethods: string[] = []
  const count = g.chance(0.2) ? 2 + g.int(2) : 1
  if (count > 1) g.tags.push('pipelined')
  for (let i = 0; i < count; i++) {
    if (mode === 'request') text += request(g)
    else {
      const method = g.chance(0.15) ? 'HEAD' : g.pick(['GET', 'POST'])
      // interim answers (100 Continue, 103 Early Hints) before the final one
      const interim = g.chance(0.1) ? 1 + g.int(2) : 0
      for (let k = 0; k < interim; k++) {
        requestMethods.push(method)
        text += `HTTP/1.1 ${g.pick(['100 Continue', '103 Early Hints', '102 Processing'])}\r\n${g.chance(0.5) ? 'Link: </a.css>; rel=preload\r\n' : ''}\r\n`
      }
      requestMethods.push(method)
      text += response(g, method)
    }
  }
  // oversized: pad one header to just under or over the limit
  if (g.maybe(0.03, 'oversized', false, () => true)) {
    const at = text.indexOf('\r\n')
    if (at > 0) {
      const size = options.maxHeadSize - 64 + g.int(128)
      text = text.slice(0, at + 2) + `X-Pad: ${'p'.repeat(Math.max(0, size))}\r\n` + text.slice(at + 2)
    }
  }
  // the stream cut short: llhttp and cutover must both wait
  // havoc: one byte changed, dropped or doubled anywhere, to reach what no rule above names
  if (g.maybe(0.12, 'havoc', false, () => true) && text.length > 0) {
    const at = g.int(text.length)
    const byte = g.pick(['\x00', '\t', '\n', '\r', ' ', '"', ',', ':', ';', '=', '\x7f', '\x80', '\xff', '0', 'f', 'x', String.fromCharCode(g.int(256))])
    const how = g.int(3)
    text = how === 0 ? text.slice(0, at) + byte + text.slice(at + 1) : how === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + byte + text.slice(at)
  }
  if (g.maybe(0.08, 'truncated', false, () => true)) text = text.slice(0, g.int(text.length + 1))
  const bytes = Buffer.from(text, 'latin1')
  const splits: number[] = []
  if (g.chance(0.5)) {
    let at = 0
    for (;;) {
      at += 1 + g.int(g.chance(0.5) ? 4 : 40)
      if (at >= bytes.length) break
      splits.push(at)
    }
  }
  return { id: `${seed}:${index}`, mode, bytes, requestMethods: mode === 'request' ? ['GET'] : requestMethods, tags: g.tags.length ? [...new Set(g.tags)] : ['valid'], splits }
}
