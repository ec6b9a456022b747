// WebSocket tunnels and the split: a request follows the split one by one, a tunnel stays
// on its node as long as it lives. When a pool's share falls to 0 (a rollback, or y at 100
// at the end of a cutover), the tunnels to its nodes are cut, so their clients reconnect and
// land on the pool that now takes the traffic; a share that moves otherwise leaves them be.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { startTestCutover } from '../helpers/cutover.js'
import { waitUntil } from '../helpers/wait.js'

/** A node that accepts every upgrade, says its name, then echoes. */
async function wsNode(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.end(name))
  server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${name}`)
    socket.pipe(socket)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** A WebSocket-style upgrade through the proxy: resolves once the node named itself. */
async function openTunnel(proxyUrl: string): Promise<{ node: string; socket: net.Socket; closed: Promise<void> }> {
  const { port } = new URL(proxyUrl)
  const socket = net.connect(Number(port), '127.0.0.1')
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  socket.on('error', () => undefined)
  socket.write('GET /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  let text = ''
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
  await waitUntil('the upgrade answered', () => /\r\n\r\n(x1|y1)$/.test(text), 3000)
  return { node: text.slice(-2), socket, closed }
}

t.test("a rollback cuts y's WebSocket tunnels; reconnected, they land on x", async (t) => {
  const x = await wsNode('x1')
  const y = await wsNode('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(() => c.cutover.close())
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const onY = await openTunnel(c.proxyUrl)
  t.equal(onY.node, 'y1')

  // the share moving without reaching 0 leaves the tunnel where it is
  t.equal((await c.api('PUT', '/v1/split', { y: 50 })).status, 200)
  onY.socket.write('still-there')
  let echoed = ''
  onY.socket.on('data', (d: Buffer) => (echoed += d.toString('latin1')))
  await waitUntil('the tunnel still echoes', () => echoed.includes('still-there'), 3000)

  t.equal((await c.api('POST', '/v1/rollback', { reason: 'test' })).status, 200)
  await onY.closed
  t.pass('the tunnel to y was cut by the rollback')
  const again = await openTunnel(c.proxyUrl)
  t.equal(again.node, 'x1', 'its client reconnects to x')
  again.socket.destroy()
})

t.test("y at 100 cuts x's tunnels at the end of a cutover; y's stay", async (t) => {
  const x = await wsNode('x1')
  const y = await wsNode('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(() => c.cutover.close())
  const onX = await openTunnel(c.proxyUrl)
  t.equal(onX.node, 'x1', 'y at 0: x')
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  await onX.closed
  const onY = await openTunnel(c.proxyUrl)
  t.equal(onY.node, 'y1')
  // a change that empties no pool (y stays at 100 through a reload of the same file) cuts nothing
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  onY.socket.write('ping')
  let echoed = ''
  onY.socket.on('data', (d: Buffer) => (echoed += d.toString('latin1')))
  await waitUntil('y still echoes', () => echoed.includes('ping'), 3000)
  onY.socket.destroy()
})
