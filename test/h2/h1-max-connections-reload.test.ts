// A reloaded proxy.upstream_max_connections applies to the HTTP/1.1 agents h2 streams use
// for a node's url, as it does to the HTTP/1.1 engine's connection pools: a raised cap lets a
// new request have a connection of its own at once. The agents kept the cap they were made
// with until a restart.
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, type TestCutover, testConfigYaml } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

t.test('a raised upstream_max_connections gives a new request a connection while the old ones are busy', async (t) => {
  const sockets: Socket[] = []
  const held: http.ServerResponse[] = []
  const seen: string[] = []
  // a node that answers nothing until told to
  const node = http.createServer((req, res) => {
    req.resume()
    seen.push(req.url ?? '')
    held.push(res)
  })
  node.on('connection', (s: Socket) => sockets.push(s))
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const proxy = (max: number) => `  upstream_max_connections: ${max}\n  request_timeout: 30s\n  connect_timeout: 30s`
  const options = { x: [`http://127.0.0.1:${(node.address() as AddressInfo).port}`], y: [] }
  const c: TestCutover = await startTestCutover({ ...options, proxy: proxy(1) })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  const first = h2Request(session, { ':path': '/1' })
  await waitUntil('the first request at the node', () => seen.length === 1 || undefined, 5000)
  const second = h2Request(session, { ':path': '/2' })
  await c.cutover.reload(parseConfig(testConfigYaml({ ...options, proxy: proxy(2) }, c.stateDir), { source: 'test' }))
  const third = h2Request(session, { ':path': '/3' })
  await waitUntil('a second request at the node', () => seen.length === 2 || undefined, 3000).catch(() => undefined)
  t.equal(sockets.length, 2, 'a second connection under the raised cap')
  t.equal(seen.length, 2, 'two requests at the node at once')
  // all of them answered in the end, the one that waited in line too
  const release = setInterval(() => {
    for (const res of held.splice(0)) res.end('ok')
  }, 20)
  t.teardown(() => clearInterval(release))
  for (const answer of await Promise.all([first, second, third])) t.equal(answer.body, 'ok')
  t.ok(sockets.length <= 2, `at most 2 connections (${sockets.length})`)
})
