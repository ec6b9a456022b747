// WebSocket tunnels and the split: a request follows the split one by one, a tunnel stays
// on its node as long as it lives. When a pool's share falls to 0 (a rollback, or y at 100
// at the end of a cutover), the tunnels to its nodes are cut, so their clients reconnect and
// land on the pool that now takes the traffic; a share that moves otherwise leaves them be.
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { waitUntil } from '../helpers/wait.js'
import { openTunnel, wsNode } from '../helpers/ws-node.js'

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

t.test('a node put in maint has its tunnels cut (maint is no traffic at all); drain leaves them be', async (t) => {
  const a = await wsNode('x1')
  const b = await wsNode('x2')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const c = await startTestCutover({ x: [a.url, b.url], y: [] })
  t.teardown(() => c.cutover.close())
  const names = (await c.api('GET', '/v1/state')).body.pools.x.nodes.map((n: { name: string }) => n.name)
  // tunnels until one lands on each node
  const open: Record<string, Awaited<ReturnType<typeof openTunnel>>> = {}
  for (let i = 0; i < 40 && Object.keys(open).length < 2; i++) {
    const tunnel = await openTunnel(c.proxyUrl)
    if (open[tunnel.node] === undefined) open[tunnel.node] = tunnel
    else tunnel.socket.destroy()
  }
  t.same(Object.keys(open).sort(), ['x1', 'x2'])
  let cutA = false
  void open.x1.closed.then(() => (cutA = true))

  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(names[0])}`, { admin: 'drain' })).status, 200)
  open.x1.socket.write('after-drain')
  let echoed = ''
  open.x1.socket.on('data', (d: Buffer) => (echoed += d.toString('latin1')))
  await waitUntil('a drained node keeps its tunnels', () => echoed.includes('after-drain'), 3000)
  t.notOk(cutA)

  t.equal((await c.api('PUT', `/v1/nodes/x/${encodeURIComponent(names[0])}`, { admin: 'maint' })).status, 200)
  await open.x1.closed
  t.pass("the maint node's tunnel was cut")
  open.x2.socket.write('x2-stays')
  let other = ''
  open.x2.socket.on('data', (d: Buffer) => (other += d.toString('latin1')))
  await waitUntil("the other node's tunnel still echoes", () => other.includes('x2-stays'), 3000)
  open.x2.socket.destroy()
})
