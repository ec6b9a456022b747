// What of a node's 101 reaches the client (switchHead) and which protocols it may switch to
// (notOffered, upgradeProtocols): the helpers the tunnel's integration tests go through, on
// the heads those cannot cheaply reach (many fields, odd tokens, long lists).
import t from 'tap'
import { notOffered, switchHead, upgradeProtocols } from '../../src/forwarding/headers.js'
import { parseResponseHead, type ResponseHead } from '../../src/http1/index.js'

function response(lines: string[]): ResponseHead {
  const r = parseResponseHead(Buffer.from(`HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1'), 65536, 'GET')
  if (r.kind !== 'head') throw new Error(`not a head: ${r.kind}`)
  return r.head
}

t.test('a 101 with more fields than the codec marks (its names read instead) loses the same fields', async (t) => {
  const many = Array.from({ length: 40 }, (_, i) => `X-F${i}: ${i}`)
  const head = switchHead(response(['Upgrade: websocket', 'Connection: Upgrade', 'Keep-Alive: timeout=5', ...many, 'Content-Length: 3', 'Sec-WebSocket-Accept: abc']))
  t.equal(head, `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${many.join('\r\n')}\r\nSec-WebSocket-Accept: abc\r\n\r\n`)
})

t.test("a 101's fields named by its Connection are dropped, Upgrade never is", async (t) => {
  const head = switchHead(response(['Connection: Upgrade, X-Private, Upgrade', 'Upgrade: websocket', 'X-Private: 1', 'X-Public: 2']))
  t.equal(head, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Public: 2\r\nConnection: Upgrade\r\n\r\n')
})

t.test('the protocols of every Upgrade field, in order, empty elements skipped', async (t) => {
  t.same(upgradeProtocols(['Upgrade', 'foo/1, , websocket', 'Host', 'a', 'upgrade', ' h2c ']), ['foo/1', 'websocket', 'h2c'])
  t.same(upgradeProtocols(['Upgrade', ' , ']), [])
})

t.test('a protocol switched to must be one offered: names in any case, a version on one side only is the same protocol', async (t) => {
  t.equal(notOffered(['WebSocket'], ['websocket']), undefined)
  t.equal(notOffered(['websocket/13'], ['websocket']), undefined)
  t.equal(notOffered(['foo'], ['foo/1']), undefined)
  t.equal(notOffered(['My_Proto/1^a'], ['my_proto/1^A']), undefined, 'characters of a token that are not letters')
  t.equal(notOffered(['foo/2'], ['foo/1']), 'foo/2')
  t.equal(notOffered(['websocket', 'h2c'], ['websocket']), 'h2c')
  t.equal(notOffered(['websocketx'], ['websocket']), 'websocketx')
})

t.test('long lists on both sides are compared in one pass each', async (t) => {
  // a hostile client and node could each send a head full of protocols
  const offers = Array.from({ length: 20000 }, (_, i) => `p${i}/1`)
  const protocols = Array.from({ length: 20000 }, (_, i) => `P${19999 - i}/1`)
  t.equal(notOffered(protocols, offers), undefined)
  t.equal(notOffered([...protocols, 'q/1'], offers), 'q/1')
})
