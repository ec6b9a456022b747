// An h2 request is whole at its END_STREAM (RFC 9113 8.1), not when its DATA reached the
// declared content-length: a client that sends all of a declared body and then resets the
// stream abandoned the request, and an HTTP/1.1 node must not read it whole (it would act
// on it), as on the HTTP/1.1 path a client that goes away cancels its upstream request.
// The node got every byte of the body, whole by its Content-Length, before the reset.
import http from 'node:http'
import http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { DATA, END_HEADERS, H2_PREFACE, h2Frame, HEADERS, hpackLiteral, RST_STREAM, SETTINGS } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

/** POST / over http with :authority a (static 3, 4, 6) and content-length: 5. */
const H2_POST_5 = Buffer.concat([Buffer.from([0x83, 0x84, 0x86]), hpackLiteral(':authority', 'a'), hpackLiteral('content-length', '5')])

interface Seen {
  body: string
  complete: boolean
  closed: boolean
}

async function setup(t: Test) {
  const seen: Seen[] = []
  const node = http.createServer((req, res) => {
    const s: Seen = { body: '', complete: false, closed: false }
    seen.push(s)
    req.on('data', (d) => (s.body += d))
    req.on('end', () => {
      s.complete = true
      res.end('done')
    })
    req.on('close', () => (s.closed = true))
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const c = await startTestCutover({ x: [`http://127.0.0.1:${(node.address() as AddressInfo).port}`], y: [] })
  const port = c.cutover.proxyAddress.port
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  return { seen, session, port }
}

t.test('a declared body sent whole, then a reset before END_STREAM: the HTTP/1.1 node never reads the request whole', async (t) => {
  const { seen, port } = await setup(t)
  // by hand: node:http2's close() sends an END_STREAM before its RST_STREAM
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  t.teardown(() => socket.destroy())
  await new Promise<void>((r) => socket.once('connect', () => r()))
  socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0), h2Frame(HEADERS, END_HEADERS, 1, H2_POST_5), h2Frame(DATA, 0, 1, Buffer.from('hello'))]))
  // all that may reach the node before the client's END_STREAM did
  await waitUntil('the node has the body but its end', () => seen.length === 1 && seen[0].body.length >= 4, 3000)
  socket.write(h2Frame(RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])))
  await waitUntil('the request closed at the node', () => seen[0].closed, 3000)
  t.same(seen, [{ body: 'hell', complete: false, closed: true }], 'not whole at the node')
})

t.test('a declared body whose END_STREAM comes later: the node reads it whole then', async (t) => {
  const { seen, session } = await setup(t)
  const req = session.request({ ':method': 'POST', ':path': '/pay', 'content-length': '5' })
  let status = 0
  req.on('response', (h) => (status = Number(h[':status'])))
  req.write('he')
  req.write('llo')
  await waitUntil('the node has the body but its end', () => seen.length === 1 && seen[0].body.length >= 4, 3000)
  req.end()
  let body = ''
  req.on('data', (d) => (body += d))
  await new Promise((r) => req.on('end', r))
  t.equal(status, 200)
  t.equal(body, 'done')
  t.same([seen[0].body, seen[0].complete], ['hello', true], 'whole at the node')
})
