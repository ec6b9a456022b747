import t from 'tap'
import type { IncomingMessage } from 'node:http'
import { clientAddress, clientResponseHeaders, upstreamRequestHeaders } from '../../src/forwarding/headers.js'

function req(rawHeaders: string[], remoteAddress = '10.1.2.3'): IncomingMessage {
  return { rawHeaders, socket: { remoteAddress } } as unknown as IncomingMessage
}

t.test('request headers: hop-by-hop dropped, Host kept, X-Forwarded-* set', async (t) => {
  const out = upstreamRequestHeaders(
    req([
      'Host', 'Kong.Example:8000',
      'Connection', 'keep-alive, X-Secret-Hop',
      'Keep-Alive', 'timeout=5',
      'X-Secret-Hop', 'drop me',
      'TE', 'trailers',
      'Trailer', 'x',
      'Proxy-Connection', 'keep-alive',
      'Upgrade', 'h2c',
      'Expect', '100-continue',
      'X-Forwarded-For', '1.1.1.1',
      'x-forwarded-for', '2.2.2.2',
      'X-Forwarded-Proto', 'ftp',
      'X-Forwarded-Host', 'evil',
      'Accept', 'a',
      'accept', 'b',
      'Content-Length', '3',
      'content-length', '3',
    ]),
    true,
  )
  t.same(out, [
    'Host', 'Kong.Example:8000',
    'Accept', 'a',
    'accept', 'b',
    'Content-Length', '3',
    'X-Forwarded-For', '1.1.1.1, 2.2.2.2, 10.1.2.3',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-Host', 'Kong.Example:8000',
  ])
})

t.test('an upgrade keeps Upgrade and Connection: Upgrade', async (t) => {
  const out = upstreamRequestHeaders(req(['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'], '::ffff:127.0.0.1'), false, true)
  t.same(out, ['Host', 'h', 'Sec-WebSocket-Key', 'k', 'X-Forwarded-For', '127.0.0.1', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket'])
})

t.test('client addresses', async (t) => {
  t.equal(clientAddress(req([], '::ffff:10.0.0.1')), '10.0.0.1')
  t.equal(clientAddress(req([], '::1')), '::1')
})

t.test('response headers: hop-by-hop dropped, repeats kept', async (t) => {
  const b = (...s: string[]) => s.map((x) => Buffer.from(x, 'latin1'))
  const out = clientResponseHeaders(
    b('Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Transfer-Encoding', 'chunked', 'Connection', 'keep-alive, X-Hop', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'b=2', 'X-Hop', '1', 'Upgrade', 'h2', 'Proxy-Connection', 'x', 'Trailer', 'y', 'TE', 'z', 'X-Café', 'ünï'),
  )
  t.same(out, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Café', 'ünï'])
})
