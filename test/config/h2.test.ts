// The config of HTTP/2 and gRPC (issue 12): node h2 addresses, the h2c listener, gates.grpc_failures, gRPC probes.
import t from 'tap'
import { parse } from 'yaml'
import { parseH2Url } from '../../src/config/h2.js'
import { formatEffectiveConfig } from '../../src/config/print.js'
import { problemsOf, TOKEN, valid } from './fixtures.js'

const base = (pools: string, extra = '') => `control: { token: ${TOKEN} }
pools:
${pools}
${extra}`

t.test('a node reads like kong.conf: url for HTTP/1.1, h2 for its http2 listener', async (t) => {
  const config = valid(
    base(`  x: { nodes: [{ url: http://10.0.0.11:8000, h2: h2c://10.0.0.11:9080 }] }
  y: { nodes: [{ url: https://kong-y.internal:8443, h2: "h2://kong-y.internal" }, http://10.0.0.22:8000] }`),
  )
  t.same(config.pools.x.nodes[0].h2, { url: 'h2c://10.0.0.11:9080', tls: false, hostname: '10.0.0.11', port: 9080, authority: '10.0.0.11:9080' })
  t.same(config.pools.y.nodes[0].h2, { url: 'h2://kong-y.internal:443', tls: true, hostname: 'kong-y.internal', port: 443, authority: 'kong-y.internal:443' })
  t.equal(config.pools.y.nodes[1].h2, undefined)
})

t.test('h2 URLs are refused with the reason, naming the key', async (t) => {
  t.match(parseH2Url('http://a:1'), /must be an h2c:\/\/ \(plain text\) or h2:\/\/ \(TLS\) URL/)
  t.match(parseH2Url('h2c://a:1/grpc'), /must not have a path/)
  t.match(parseH2Url('h2c://u:p@a:1'), /user name/)
  t.match(parseH2Url('h2c://a:1?x'), /query/)
  const problems = problemsOf(
    base(`  x: { nodes: [{ url: http://a:8000, h2: http://a:9080 }] }
  y: { nodes: [] }`),
  )
  t.match(problems, [/^pools\.x\.nodes\[0\]\.h2: must be an h2c:\/\//])
})

t.test('proxy.h2c_listen and gates.grpc_failures by name or code; bad ones named', async (t) => {
  const config = valid(base('  x: { nodes: [http://a:8000] }\n  y: { nodes: [] }', 'proxy: { h2c_listen: 127.0.0.1:9080 }\ngates: { grpc_failures: [unavailable, 13] }'))
  t.same(config.proxy.h2c_listen, { host: '127.0.0.1', port: 9080 })
  t.same(config.gates.grpc_failures, ['INTERNAL', 'UNAVAILABLE'])
  const problems = problemsOf(base('  x: { nodes: [http://a:8000] }\n  y: { nodes: [] }', 'proxy: { h2c_listen: nowhere }\ngates: { grpc_failures: [UNAVAILABLE, NOPE, 0, 99] }'))
  t.match(problems.join('\n'), /proxy\.h2c_listen: expected host:port/)
  t.match(problems.join('\n'), /gates\.grpc_failures\[1\]: not a gRPC status: "NOPE"/)
  t.match(problems.join('\n'), /gates\.grpc_failures\[2\]: OK is never a failure/)
  t.match(problems.join('\n'), /gates\.grpc_failures\[3\]: not a gRPC status: 99/)
})

t.test('the effective config prints the new keys and parses back to the same config', async (t) => {
  const text = base(
    '  x: { nodes: [{ url: http://a:8000, h2: h2c://a:9080 }] }\n  y: { nodes: [] }',
    'proxy: { h2c_listen: 127.0.0.1:9080, h2_max_concurrent_streams: 64 }\nhealth: { active: { type: grpc, grpc_service: shop.Cart } }\ngates: { grpc_failures: [UNAVAILABLE] }',
  )
  const config = valid(text)
  const printed = formatEffectiveConfig(config)
  const doc = parse(printed)
  t.equal(doc.pools.x.nodes[0].h2, 'h2c://a:9080')
  t.equal(doc.health.active.type, 'grpc')
  t.equal(doc.health.active.grpc_service, 'shop.Cart')
  t.same(doc.gates.grpc_failures, ['UNAVAILABLE'])
  const again = valid(printed.replace('********', TOKEN))
  t.same(again.pools, config.pools)
  t.same(again.proxy, config.proxy)
  t.same(again.gates, config.gates)
  t.same(again.health, config.health)
})

t.test('health.active.type grpc needs every node to have an h2 address', async (t) => {
  const problems = problemsOf(base('  x: { nodes: [{ url: http://a:8000, h2: h2c://a:9080 }, http://b:8000] }\n  y: { nodes: [http://c:8000] }', 'health: { active: { type: grpc } }'))
  t.same(problems, [
    'pools.x.nodes[1]: http://b:8000 has no h2 address for health.active.type grpc to probe (add h2: h2c://host:port) (line 3)',
    'pools.y.nodes[0]: http://c:8000 has no h2 address for health.active.type grpc to probe (add h2: h2c://host:port) (line 4)',
  ])
  t.equal(valid(base('  x: { nodes: [http://b:8000] }\n  y: { nodes: [] }', 'health: { active: { type: http } }')).health.active?.type, 'http')
})
