import t from 'tap'
import { buildRoutingTable } from '../../src/routing/table.js'
import { node } from '../forwarding/fixtures.js'

t.test('the table holds usable nodes with cumulative weights', async (t) => {
  const a = node('x', 1, 1)
  const b = node('x', 2, 3)
  const c = node('x', 3, 2)
  const d = node('y', 4, 1)
  c.healthy = false
  const table = buildRoutingTable(12.34, { x: [a, b, c], y: [d] }, (n) => n.healthy !== false, { y: 0, override_header: 'X-Cutover-Pool', sticky: { header: 'X-Consumer-ID' } })
  t.equal(table.yBasisPoints, 1234)
  t.same(
    table.x.nodes.map((n) => n.name),
    [a.name, b.name],
  )
  t.same(Array.from(table.x.cumulative), [1, 4])
  t.equal(table.x.total, 4)
  t.equal(table.y.total, 1)
  t.equal(table.overrideHeader, 'x-cutover-pool')
  t.equal(table.stickyHeader, 'x-consumer-id')
  t.ok(Object.isFrozen(table))
  for (const n of [a, b, c, d]) await n.dispatcher.close()
})

t.test('y is clamped to 0..10000 basis points', async (t) => {
  t.equal(buildRoutingTable(0, { x: [], y: [] }, () => true, { y: 0 }).yBasisPoints, 0)
  t.equal(buildRoutingTable(100, { x: [], y: [] }, () => true, { y: 0 }).yBasisPoints, 10000)
  t.equal(buildRoutingTable(0.01, { x: [], y: [] }, () => true, { y: 0 }).yBasisPoints, 1)
  t.equal(buildRoutingTable(150, { x: [], y: [] }, () => true, { y: 0 }).yBasisPoints, 10000)
})
