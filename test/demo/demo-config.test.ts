import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { buildDemoYaml, DEMO_TOKEN_ENV } from '../../src/demo/demo-config.js'

const input = {
  host: '127.0.0.1',
  port: 0,
  controlPort: 9901,
  statePath: '/tmp/cutover demo "x"/state.json',
  xNodes: [40001, 40002, 40003].map((port, i) => ({ url: `http://127.0.0.1:${port}`, name: `kong-x${i + 1}` })),
  yNodes: [40011, 40012, 40013].map((port, i) => ({ url: `http://127.0.0.1:${port}`, name: `kong-y${i + 1}` })),
  split: 12.5,
}

t.test('the generated YAML parses into the demo config', async (t) => {
  const config = parseConfig(buildDemoYaml(input), { env: { [DEMO_TOKEN_ENV]: 'tok-123456789' }, source: 'demo config' })
  t.same(config.proxy.listen, { host: '127.0.0.1', port: 0 })
  t.same(config.control.listen, { host: '127.0.0.1', port: 9901 })
  t.equal(config.control.token, 'tok-123456789', 'token comes from the env, through ${} substitution')
  t.equal(config.state.path, input.statePath, 'a path with spaces and quotes survives')
  t.same(
    config.pools.x.nodes.map((n) => ({ url: n.url, name: n.name })),
    input.xNodes,
    'the nodes have names',
  )
  t.same(
    config.pools.y.nodes.map((n) => ({ url: n.url, name: n.name })),
    input.yNodes,
  )
  t.equal(config.split.y, 12.5)
  t.same(config.split.sticky, { header: 'x-consumer-id' })
  t.equal(config.split.override_header, 'x-cutover-pool')
  t.match(config.health.active, { path: '/status/ready', interval: 1000, healthy_threshold: 2, unhealthy_threshold: 2 })
  t.equal(config.health.active?.port, undefined, 'probes the traffic port: the sim nodes serve /status/ready there too')
  t.match(config.gates, { window: 10_000, min_requests: 30, max_error_rate: 0.05, max_p99_ms: 250, action: 'rollback' })
  t.same(config.rollout?.steps, [
    { y: 10, hold: 10_000 },
    { y: 50, hold: 10_000 },
    { y: 100, hold: 0 },
  ])
})

t.test('without the token env the config is refused', async (t) => {
  t.throws(() => parseConfig(buildDemoYaml(input), { env: {} }), { code: 'CUTOVER_ERR_CONFIG_INVALID' })
})
