// The HTTP/1.1 agent an h2 stream uses for a node's url keeps an idle socket for
// proxy.upstream_keepalive_timeout, as the HTTP/1.1 engine's connections do, a reloaded
// value included. It kept every idle socket a fixed 4 s, whatever the config said.
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import t, { type Test } from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, type TestCutover, testConfigYaml } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

/** An HTTP/1.1 node counting its connections, behind a cutover with proxy.upstream_keepalive_timeout keepAlive; an h2 session to it. */
async function setup(t: Test, keepAlive: string) {
  const sockets: Socket[] = []
  const node = http.createServer((req, res) => {
    req.resume()
    res.end('ok')
  })
  node.keepAliveTimeout = 60_000
  node.on('connection', (s: Socket) => sockets.push(s))
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const options = { x: [`http://127.0.0.1:${(node.address() as AddressInfo).port}`], y: [], proxy: `  upstream_keepalive_timeout: ${keepAlive}` }
  const c: TestCutover = await startTestCutover(options)
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  const open = () => sockets.filter((s) => !s.destroyed).length
  return { c, session, sockets, open, options }
}

t.test('an idle socket to an HTTP/1.1 node closes after upstream_keepalive_timeout, and is reused before', async (t) => {
  const { session, sockets, open } = await setup(t, '300ms')
  t.equal((await h2Request(session, { ':path': '/1' })).body, 'ok')
  t.equal((await h2Request(session, { ':path': '/2' })).body, 'ok')
  t.equal(sockets.length, 1, 'one connection for both requests')
  await waitUntil('the idle connection closed', () => open() === 0, 2500)
  t.pass('closed well before the old fixed 4 s')
})

t.test('a reload of upstream_keepalive_timeout applies to the sockets idle at the time', async (t) => {
  const { c, session, sockets, open, options } = await setup(t, '60s')
  t.equal((await h2Request(session, { ':path': '/1' })).body, 'ok')
  t.equal(open(), 1)
  await c.cutover.reload(parseConfig(testConfigYaml({ ...options, proxy: '  upstream_keepalive_timeout: 300ms' }, c.stateDir), { source: 'test' }))
  await waitUntil('the idle connection closed', () => open() === 0, 2500)
  t.equal(sockets.length, 1)
})
