import t from 'tap'
import { parse } from 'yaml'
import { formatEffectiveConfig, MASKED_TOKEN } from '../../src/config/print.js'
import { parseConfig } from '../../src/config/load.js'
import { ENV, MINIMAL, TOKEN, valid } from './fixtures.js'

const FULL = `proxy:
  listen: "[::1]:0"
  workers: auto
  connect_timeout: 1500ms
  max_body_size: 10mb
control: { listen: 127.0.0.1:0, token: ${TOKEN} }
state: { path: /tmp/state.json }
pools:
  x: { nodes: [http://10.0.0.11:8000, { url: https://10.0.0.12, weight: 3 }] }
  y: { nodes: ["http://[::1]:8000"] }
split: { y: 12.5, sticky: { cookie: sid }, override_header: x-cutover-pool }
health:
  active: { port: 8100, interval: 5s }
  passive: { eject_for: 90s }
gates: { max_error_rate_over_x: 0.005, max_p99_ms: 800, action: pause }
rollout: { steps: [{ y: 10, hold: 5m }, { y: 100 }] }
log: { level: debug, access: true, access_sample: 0.5 }
events: { webhook: "https://hooks.example.com/cutover" }
`

t.test('the token is masked and never printed', async (t) => {
  const text = formatEffectiveConfig(valid(MINIMAL))
  t.notMatch(text, TOKEN)
  t.equal(parse(text).control.token, MASKED_TOKEN)
})

t.test('every key is printed with defaults, durations as strings, nodes as {url, weight}', async (t) => {
  const printed = parse(formatEffectiveConfig(valid(MINIMAL)))
  t.same(printed.proxy, {
    listen: '0.0.0.0:8080',
    workers: 1,
    connect_timeout: '2s',
    header_timeout: '10s',
    request_timeout: '1m',
    drain_timeout: '30s',
    retries: 1,
    keepalive_timeout: '5s',
    max_connections: 0,
    max_header_size: 16384,
    max_body_size: 0,
    max_inflight: 10000,
    upstream_max_connections: 64,
    upstream_keepalive_timeout: '30s',
    idle_timeout: '1m',
    h2_max_concurrent_streams: 128,
    proxy_protocol: false,
  })
  t.same(printed.pools, { x: { nodes: [{ url: 'http://127.0.0.1:8001', weight: 1 }] }, y: { nodes: [] } })
  t.same(printed.gates, {
    window: '1m',
    min_requests: 100,
    max_error_rate: 0.01,
    risk: 0.05,
    grpc_failures: ['UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS'],
    action: 'rollback',
  })
  t.same(printed.health, { passive: { max_failures: 5, eject_for: '30s' } })
  t.same(Object.keys(printed), ['proxy', 'control', 'state', 'pools', 'split', 'health', 'gates', 'log', 'events', 'analysis'])
  t.same(printed.analysis, { queries: [], hooks: { timeout: '5s', retry: '10s' } })
})

t.test('the printed config parses back to the same Config', async (t) => {
  for (const source of [MINIMAL, FULL]) {
    const config = valid(source)
    const printed = formatEffectiveConfig(config)
    const again = parseConfig(printed.replace(`"${MASKED_TOKEN}"`, '${CUTOVER_TOKEN}'), { env: ENV })
    t.same(again, config)
  }
  const printed = parse(formatEffectiveConfig(valid(FULL)))
  t.equal(printed.proxy.listen, '[::1]:0')
  t.equal(printed.proxy.connect_timeout, '1500ms')
  t.same(printed.rollout.steps, [
    { y: 10, hold: '5m' },
    { y: 100, hold: '0s' },
  ])
})
