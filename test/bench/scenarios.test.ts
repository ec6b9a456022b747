import t from 'tap'
import { poolPorts, portsNeeded, SCENARIOS, selectScenarios } from '../../bench/scenarios.mjs'

t.test('the issue asks for these scenarios at least', async (t) => {
  const names = SCENARIOS.map((s) => s.name)
  for (const n of ['small-get', 'get-64k', 'post-1m', 'sticky', 'nodes-100', 'rate-p99', 'hop-latency', 'conns-1000']) t.ok(names.includes(n), n)
  t.equal(SCENARIOS.find((s) => s.name === 'conns-1000')?.load.connections, 1000)
  t.equal(SCENARIOS.find((s) => s.name === 'post-1m')?.load.bodyBytes, 1 << 20)
})

t.test('selection: by name, the quick set, unknown names refused', async (t) => {
  t.same(
    selectScenarios({ names: ['sticky', 'small-get'] }).map((s) => s.name),
    ['small-get', 'sticky'],
  )
  const quick = selectScenarios({ quick: true }).map((s) => s.name)
  t.ok(quick.length < SCENARIOS.length)
  t.ok(quick.includes('sticky') && quick.includes('rate-p99') && quick.includes('hop-latency') && quick.includes('conns-1000'), 'every goal in the quick set')
  t.throws(() => selectScenarios({ names: ['nope'] }), /unknown scenario nope/)
})

t.test('pool ports: two for one node each, 200 apart from them for 100 each', async (t) => {
  const ports = Array.from({ length: 202 }, (_, i) => 5000 + i)
  const one = SCENARIOS.find((s) => s.name === 'small-get')
  const many = SCENARIOS.find((s) => s.name === 'nodes-100')
  t.same(poolPorts(one, ports), { x: [5000], y: [5001] })
  const p = poolPorts(many, ports)
  t.equal(p.x.length, 100)
  t.equal(p.y.length, 100)
  t.equal(p.x[0], 5002)
  t.equal(p.y[99], 5201)
  t.equal(portsNeeded([one]), 2)
  t.equal(portsNeeded([one, many]), 202)
  t.throws(() => poolPorts(many, ports.slice(0, 10)))
})
