// close() (SIGTERM) ends within drain_timeout and a little more, whatever connections are
// open. A connection that had asked nothing held it up: one silent on the control listener
// for ever (Node's http server gives such a socket no deadline), one with a partial request
// head or body there until Node's own request checks, and one still in its TLS handshake on
// the proxy listener until header_timeout (10 s by default).
import net from 'node:net'
import t from 'tap'
import { startTestCutover, TOKEN } from './helpers/cutover.js'
import { tlsFiles } from './helpers/h2.js'
import { startUpstream } from './helpers/upstream.js'
import { waitUntil } from './helpers/wait.js'

/** drain_timeout in the test config */
const DRAIN_MS = 2000
/** what close() may take beyond it */
const MARGIN_MS = 1500

/** A raw connection that sends bytes (if any) and waits; resolves `closed` when cutover closes it. */
function lurker(port: number, bytes?: string): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  // reading, so the close is seen behind whatever was answered
  socket.resume()
  if (bytes !== undefined) socket.write(bytes)
  return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve())) }
}

t.test('close() ends within drain_timeout though connections that asked nothing stay open', async (t) => {
  const node = await startUpstream('x')
  t.teardown(() => node.close())
  const files = tlsFiles()
  const c = await startTestCutover({ x: [node.url], y: [], proxy: `  tls: { cert: ${files.cert}, key: ${files.key} }` })
  const control = c.cutover.controlAddress.port
  const lurkers = {
    'silent, on the control listener': lurker(control),
    'with half a request head, on the control listener': lurker(control, 'GET /healthz HTTP/1.1\r\nhost: a\r\n'),
    'with half a request body, on the control listener': lurker(
      control,
      `PUT /v1/split HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"y":`,
    ),
    'before its TLS handshake, on the proxy listener': lurker(c.cutover.proxyAddress.port),
  }
  // every connection is open at both ends before the signal
  await waitUntil(
    'the control connections accepted',
    async () => {
      const { status } = await c.api('GET', '/v1/state')
      return status === 200
    },
    5000,
  )
  for (const l of Object.values(lurkers)) await waitUntil('connected', () => !l.socket.connecting, 5000)
  t.teardown(() => {
    for (const l of Object.values(lurkers)) l.socket.destroy()
  })
  const started = performance.now()
  await c.cutover.close()
  const took = performance.now() - started
  t.ok(took < DRAIN_MS + MARGIN_MS, `close() took ${Math.round(took)} ms (drain_timeout ${DRAIN_MS} ms)`)
  for (const [name, l] of Object.entries(lurkers)) {
    await l.closed
    t.pass(`closed: the connection ${name}`)
  }
})
