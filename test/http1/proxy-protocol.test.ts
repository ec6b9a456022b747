import t from 'tap'
import { ipv6, parseProxyHeader, V2_MAX_LENGTH } from '../../src/http1/proxy-protocol.js'

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** A v2 header: command (0 LOCAL, 1 PROXY), family/protocol byte, address block (and TLVs). */
function v2(command: number, familyProtocol: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4)
  fixed[0] = 0x20 | command
  fixed[1] = familyProtocol
  fixed.writeUInt16BE(body.length, 2)
  return Buffer.concat([SIG, fixed, body])
}

const ipv4Block = Buffer.from([203, 0, 113, 7, 10, 0, 0, 5, 0xc3, 0x50, 0x1f, 0x90])
const ipv6Block = Buffer.concat([Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from('20010db8000000000000000000000002', 'hex'), Buffer.from([0xc3, 0x50, 0x1f, 0x90])])
const TLV = Buffer.from([0x05, 0x00, 0x03, 0x61, 0x62, 0x63]) // PP2_TYPE_UNIQUE_ID "abc"

t.test('v1: TCP4, TCP6 and UNKNOWN, with the bytes after the header left alone', async (t) => {
  const tcp4 = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.5 50000 8080\r\nGET / HTTP/1.1\r\n')
  t.same(parseProxyHeader(tcp4), { kind: 'done', length: 44, version: 1, source: '203.0.113.7' })
  t.same(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 50000 8080\r\n')), { kind: 'done', length: 47, version: 1, source: '2001:db8::1' })
  t.same(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'done', length: 15, version: 1, source: undefined })
  t.same(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n')), { kind: 'done', length: 35, version: 1, source: undefined }, 'UNKNOWN may carry anything up to CRLF')
})

t.test('v2: PROXY over TCP4 and TCP6 (TLVs skipped), LOCAL and UNSPEC name no client', async (t) => {
  t.same(parseProxyHeader(Buffer.concat([v2(1, 0x11, ipv4Block), Buffer.from('GET')])), { kind: 'done', length: 28, version: 2, source: '203.0.113.7' })
  t.same(parseProxyHeader(v2(1, 0x11, Buffer.concat([ipv4Block, TLV]))), { kind: 'done', length: 34, version: 2, source: '203.0.113.7' })
  t.same(parseProxyHeader(v2(1, 0x21, ipv6Block)), { kind: 'done', length: 52, version: 2, source: '2001:db8::1' })
  t.same(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { kind: 'done', length: 16, version: 2, source: undefined }, 'LOCAL: a health check of the balancer')
  t.same(parseProxyHeader(v2(0, 0x11, ipv4Block)), { kind: 'done', length: 28, version: 2, source: undefined }, 'LOCAL ignores any address block')
  t.same(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0))), { kind: 'done', length: 16, version: 2, source: undefined }, 'UNSPEC')
  t.same(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216))), { kind: 'done', length: 232, version: 2, source: undefined }, 'a unix socket')
})

t.test('a header split anywhere asks for more until it is whole', async (t) => {
  for (const whole of [Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.5 50000 8080\r\n'), v2(1, 0x21, Buffer.concat([ipv6Block, TLV]))]) {
    for (let n = 0; n < whole.length; n++) t.same(parseProxyHeader(whole.subarray(0, n)), { kind: 'more' }, `${n} of ${whole.length} bytes`)
    t.equal((parseProxyHeader(whole) as { kind: string }).kind, 'done')
  }
})

t.test('refused, each with what is wrong', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\n'), /did not begin with a PROXY protocol header/],
    ["HTTP/2's preface", Buffer.from('PRI * HTTP/2.0\r\n'), /did not begin with a PROXY protocol header/],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5]), /did not begin/],
    ['v1 without CRLF in 107 bytes', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), /no CRLF within 107 bytes/],
    ['v1 ending in a bare LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), /no CRLF/],
    ['v1 with an unknown protocol', Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'), /unknown protocol "UDP4"/],
    ['v1 TCP4 with an IPv6 address', Buffer.from('PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n'), /must be TCP4 addresses/],
    ['v1 with a host name', Buffer.from('PROXY TCP4 evil.example 5.6.7.8 1 2\r\n'), /must be TCP4 addresses/],
    ['v1 with a port out of range', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), /ports must be 0-65535/],
    ['v1 with a leading zero in a port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'), /ports must be/],
    ['v1 with two spaces', Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), /expected "TCP4\|TCP6/],
    ['v1 with an address holding a header', Buffer.from('PROXY TCP4 1.2.3.4\r\nX: 5.6.7.8 1 2\r\n'), /expected/],
    ['v2 of version 1', Buffer.concat([SIG, Buffer.from([0x11, 0x11, 0, 12]), ipv4Block]), /version 1, not 2/],
    ['v2 with command 2', Buffer.concat([SIG, Buffer.from([0x22, 0x11, 0, 12]), ipv4Block]), /unknown command 2/],
    ['v2 with family 4', v2(1, 0x41, ipv4Block), /unknown address family/],
    ['v2 TCP4 too short for its addresses', v2(1, 0x11, Buffer.alloc(8)), /cannot hold IPv4 addresses/],
    ['v2 TCP6 too short for its addresses', v2(1, 0x21, ipv4Block), /cannot hold IPv6 addresses/],
    ['v2 longer than the limit', Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]), new RegExp(`more than ${V2_MAX_LENGTH}`)],
  ]
  for (const [what, bytes, why] of cases) {
    const r = parseProxyHeader(bytes)
    t.equal(r.kind, 'refused', what)
    if (r.kind === 'refused') t.match(r.why, why, what)
  }
})

t.test('IPv6 text as RFC 5952 writes it', async (t) => {
  const text = (hex: string) => ipv6(Buffer.from(hex, 'hex'), 0)
  t.equal(text('20010db8000000000000000000000001'), '2001:db8::1')
  t.equal(text('00000000000000000000000000000000'), '::')
  t.equal(text('00000000000000000000000000000001'), '::1')
  t.equal(text('20010db8000100000000000100000001'), '2001:db8:1::1:0:1', 'the longest run of zeros')
  t.equal(text('20010db8000000010000000000000001'), '2001:db8:0:1::1', 'a single zero group is not shortened')
  t.equal(text('20010db8000000000001000000000001'), '2001:db8::1:0:0:1', 'the first of two equal runs')
  t.equal(text('00000000000000000000ffffcb007107'), '::ffff:203.0.113.7', 'IPv4-mapped, as Node writes a peer')
  t.equal(text('fe800000000000000202b3fffe1e8329'), 'fe80::202:b3ff:fe1e:8329')
})
