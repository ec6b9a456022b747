import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isCutoverError } from '../../src/errors.js'
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js'
import { ENV, MINIMAL, TOKEN, problemsOf, valid } from './fixtures.js'

/** MINIMAL with extra YAML appended (top-level sections not already in it). */
const withSections = (extra: string): string => MINIMAL + extra

t.test('defaults fill every key a minimal file leaves out', async (t) => {
  const config = valid(MINIMAL)
  t.same(config.proxy, {
    listen: { host: '0.0.0.0', port: 8080 },
    workers: 1,
    connect_timeout: 2000,
    header_timeout: 10_000,
    request_timeout: 60_000,
    drain_timeout: 30_000,
    retries: 1,
    keepalive_timeout: 5000,
    max_connections: 0,
    max_header_size: 16384,
    max_body_size: 0,
    max_inflight: 10000,
    upstream_max_connections: 64,
    upstream_keepalive_timeout: 30_000,
    idle_timeout: 60_000,
    h2_max_concurrent_streams: 128,
    proxy_protocol: false,
  })
  t.same(config.control, { listen: { host: '127.0.0.1', port: 9901 }, token: TOKEN })
  t.same(config.state, { path: './var/cutover-state.json', backend: 'file' })
  t.same(config.split, { y: 0 })
  t.same(config.health, { passive: { max_failures: 5, eject_for: 30_000 } })
  t.same(config.gates, {
    window: 60_000,
    min_requests: 100,
    max_error_rate: 0.01,
    risk: 0.05,
    grpc_failures: ['UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS'],
    action: 'rollback',
  })
  t.equal(config.rollout, undefined)
  t.same(config.log, { level: 'info', access: false, access_sample: 0.01 })
  t.same(config.events, { audit: { max_size: 10_000_000, keep: 5 } })
  t.same(config.pools.x.nodes, [{ url: 'http://127.0.0.1:8001', origin: 'http://127.0.0.1:8001', name: '127.0.0.1:8001', protocol: 'http:', hostname: '127.0.0.1', port: 8001, weight: 1 }])
  t.same(config.pools.y.nodes, [])
})

t.test('active health defaults apply once the section is present', async (t) => {
  const config = valid(withSections('health:\n  active: {}\n'))
  t.same(config.health.active, { path: '/status/ready', type: 'http', grpc_service: '', interval: 2000, timeout: 1000, healthy_threshold: 2, unhealthy_threshold: 2 })
})

t.test('the result is deeply frozen', async (t) => {
  const config = valid(withSections('rollout: { steps: [{ y: 100 }] }\n'))
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.proxy.listen))
  t.ok(Object.isFrozen(config.pools.x.nodes))
  t.ok(Object.isFrozen(config.pools.x.nodes[0]))
  t.ok(Object.isFrozen(config.rollout!.steps[0]))
  t.throws(() => {
    ;(config.split as { y: number }).y = 50
  }, TypeError)
})

t.test('node URLs are normalised', async (t) => {
  const config = valid(`control: { token: ${TOKEN} }
pools:
  x: { nodes: [http://Kong-A.example/, https://kong-b.example, { url: "http://[::1]:8000", weight: 2.5 }] }
  y: { nodes: [http://kong-a.example:8000] }
`)
  const [a, b, v6] = config.pools.x.nodes
  t.match(a, { url: 'http://kong-a.example', origin: 'http://kong-a.example', name: 'kong-a.example:80', port: 80, hostname: 'kong-a.example', weight: 1 })
  t.match(b, { url: 'https://kong-b.example', name: 'kong-b.example:443', protocol: 'https:', port: 443 })
  t.match(v6, { url: 'http://[::1]:8000', name: '[::1]:8000', hostname: '::1', port: 8000, weight: 2.5 })
  t.equal(config.pools.y.nodes[0].name, 'kong-a.example:8000', 'another port is another node')
})

t.test('a node may have a name, used instead of host:port; names are unique across pools', async (t) => {
  const config = valid(`control: { token: ${TOKEN} }
pools:
  x: { nodes: [{ url: http://10.0.0.1:8000, name: kong-x1 }, http://10.0.0.2:8000] }
  y: { nodes: [{ url: http://10.0.0.3:8000, name: kong-y1, weight: 2 }] }
`)
  t.equal(config.pools.x.nodes[0].name, 'kong-x1')
  t.equal(config.pools.x.nodes[1].name, '10.0.0.2:8000', 'no name: host:port')
  t.match(config.pools.y.nodes[0], { name: 'kong-y1', weight: 2, url: 'http://10.0.0.3:8000' })
  const problems = problemsOf(`control: { token: ${TOKEN} }
pools:
  x: { nodes: [{ url: http://10.0.0.1:8000, name: kong-1 }] }
  y: { nodes: [{ url: http://10.0.0.3:8000, name: kong-1 }] }
`)
  t.same(
    problems.map((p) => p.replace(/ \(line \d+\)$/, '')),
    ['pools.y.nodes[0]: the name kong-1 is already used at pools.x.nodes[0]'],
  )
})

t.test('listen addresses: host:port, [v6]:port, port 0', async (t) => {
  const config = valid(withSections('proxy: { listen: "[::1]:0", workers: auto }\n').replace('token:', 'listen: localhost:65535\n  token:'))
  t.same(config.proxy.listen, { host: '::1', port: 0 })
  t.same(config.control.listen, { host: 'localhost', port: 65535 })
  t.equal(config.proxy.workers, 'auto')
})

t.test('split, sticky and override header', async (t) => {
  const config = valid(withSections('split: { y: 33.33, sticky: { header: X-Consumer-ID }, override_header: X-Cutover-Pool }\n'))
  t.same(config.split, { y: 33.33, sticky: { header: 'x-consumer-id' }, override_header: 'x-cutover-pool' })
  t.same(valid(withSections('split: { sticky: { cookie: SessionId } }\n')).split.sticky, { cookie: 'SessionId' })
  t.same(valid(withSections('split: { sticky: { ip: true } }\n')).split.sticky, { ip: true })
})

t.test('sizes accept bytes or units', async (t) => {
  const config = valid(withSections('proxy: { max_body_size: 10mb, max_header_size: 32kib }\n'))
  t.equal(config.proxy.max_body_size, 10_000_000)
  t.equal(config.proxy.max_header_size, 32768)
})

t.test('${NAME} is replaced from the environment', async (t) => {
  const env = { ...ENV, KONG_A: '10.0.0.11', PORT: '8000', HDR: 'x-pool', SAMPLE: '0.5', ACCESS: 'true' }
  const config = valid(
    `control: { token: "\${CUTOVER_TOKEN}" }
pools:
  x: { nodes: ["http://\${KONG_A}:\${PORT}"] }
  y: { nodes: [] }
split: { override_header: "\${HDR}" }
health:
  active:
    port: \${PORT}
log:
  access: \${ACCESS}
  access_sample: \${SAMPLE}
state: { path: "/var/lib/$\${HOME}" }
`,
    env,
  )
  t.equal(config.control.token, TOKEN)
  t.equal(config.pools.x.nodes[0].url, 'http://10.0.0.11:8000')
  t.equal(config.split.override_header, 'x-pool')
  t.equal(config.health.active!.port, 8000, 'a whole ${X} may stand for a number')
  t.equal(config.log.access, true)
  t.equal(config.log.access_sample, 0.5)
  t.equal(config.state.path, '/var/lib/${HOME}', '$${ escapes a literal ${')
})

t.test('a number written inside a longer string is still not a number', async (t) => {
  const problems = problemsOf(withSections('proxy: { retries: "1${ONE}" }\n'), { ...ENV, ONE: '1' })
  t.match(problems, [/^proxy\.retries: expected an integer/])
})

t.test('each bad value is reported at its key path', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['bare number duration', 'proxy: { connect_timeout: 2 }\n', /^proxy\.connect_timeout: a duration needs a unit, e\.g\. 2s \(line 6\)$/],
    ['quoted number duration', 'proxy: { header_timeout: "10" }\n', /^proxy\.header_timeout: a duration needs a unit, e\.g\. 2s \(line 6\)$/],
    ['garbage duration', 'proxy: { drain_timeout: soon }\n', /^proxy\.drain_timeout: not a duration/],
    ['zero timeout', 'proxy: { request_timeout: 0s }\n', /^proxy\.request_timeout: must be more than 0/],
    ['negative duration', 'health: { passive: { eject_for: -5s } }\n', /^health\.passive\.eject_for: not a duration/],
    ['window too long', 'gates: { window: 2h }\n', /^gates\.window: must be at most 1h/],
    ['window too short', 'gates: { window: 500ms }\n', /^gates\.window: must be at least 1s/],
    ['retries out of range', 'proxy: { retries: 11 }\n', /^proxy\.retries: must be at least 0 and at most 10/],
    ['retries not integer', 'proxy: { retries: 1.5 }\n', /^proxy\.retries: expected an integer/],
    ['workers zero', 'proxy: { workers: 0 }\n', /^proxy\.workers: must be at least 1/],
    ['workers word', 'proxy: { workers: many }\n', /^proxy\.workers: expected an integer/],
    ['listen without port', 'proxy: { listen: "0.0.0.0" }\n', /^proxy\.listen: expected host:port/],
    ['listen port too big', 'proxy: { listen: "0.0.0.0:70000" }\n', /^proxy\.listen: expected host:port/],
    ['header size too small', 'proxy: { max_header_size: 512 }\n', /^proxy\.max_header_size: must be at least 1024/],
    ['body size garbage', 'proxy: { max_body_size: lots }\n', /^proxy\.max_body_size: expected a whole number of bytes/],
    ['tls missing key', 'proxy: { tls: { cert: /etc/hosts } }\n', /^proxy\.tls\.key: required/],
    ['tls unreadable', 'proxy: { tls: { cert: /no/such/cert.pem, key: /etc/hosts } }\n', /^proxy\.tls\.cert: cannot read \/no\/such\/cert\.pem \(ENOENT\)/],
    ['percentage above 100', 'split: { y: 100.5 }\n', /^split\.y: must be a percentage from 0 to 100 with at most two decimals/],
    ['negative percentage', 'split: { y: -1 }\n', /^split\.y: must be a percentage/],
    ['three decimals', 'split: { y: 12.345 }\n', /^split\.y: must be a percentage from 0 to 100 with at most two decimals, got 12\.345/],
    ['percentage as string', 'split: { y: "10" }\n', /^split\.y: must be a percentage/],
    ['sticky with two rules', 'split: { sticky: { header: x-a, cookie: b } }\n', /^split\.sticky: has header and cookie; choose one/],
    ['sticky with no rule', 'split: { sticky: {} }\n', /^split\.sticky: needs one of header, cookie or ip/],
    ['sticky ip false', 'split: { sticky: { ip: false } }\n', /^split\.sticky\.ip: must be true/],
    ['bad header name', 'split: { sticky: { header: "x a" } }\n', /^split\.sticky\.header: not a valid header or cookie name/],
    ['bad override header', 'split: { override_header: "x:pool" }\n', /^split\.override_header: not a valid header/],
    ['timeout > interval', 'health: { active: { interval: 1s, timeout: 2s } }\n', /^health\.active\.timeout: must not exceed interval/],
    ['probe path without slash', 'health: { active: { path: status } }\n', /^health\.active\.path: must start with \//],
    ['probe port 0', 'health: { active: { port: 0 } }\n', /^health\.active\.port: must be at least 1 and at most 65535/],
    ['threshold 0', 'health: { active: { healthy_threshold: 0 } }\n', /^health\.active\.healthy_threshold: must be at least 1/],
    ['max_failures 0', 'health: { passive: { max_failures: 0 } }\n', /^health\.passive\.max_failures: must be at least 1/],
    ['error rate above 1', 'gates: { max_error_rate: 1.5 }\n', /^gates\.max_error_rate: must be at least 0 and at most 1/],
    ['p99 zero', 'gates: { max_p99_ms: 0 }\n', /^gates\.max_p99_ms: must be above 0/],
    ['min_requests 0', 'gates: { min_requests: 0 }\n', /^gates\.min_requests: must be at least 1/],
    ['risk 0', 'gates: { risk: 0 }\n', /^gates\.risk: must be above 0 and below 0\.5 \(the chance a healthy y is ever rolled back during a rollout, e\.g\. 0\.05\), got 0/],
    ['risk one half', 'gates: { risk: 0.5 }\n', /^gates\.risk: must be above 0 and below 0\.5 .*got 0\.5/],
    ['risk not a number', 'gates: { risk: low }\n', /^gates\.risk: expected a number/],
    ['action unknown', 'gates: { action: panic }\n', /^gates\.action: must be one of rollback, pause/],
    ['rollout not increasing', 'rollout: { steps: [{ y: 50, hold: 1m }, { y: 50 }] }\n', /^rollout\.steps\[1\]\.y: must be above the previous step's 50/],
    ['rollout decreasing', 'rollout: { steps: [{ y: 50, hold: 1m }, { y: 20, hold: 1m }, { y: 100 }] }\n', /^rollout\.steps\[1\]\.y: must be above/],
    ['rollout hold missing', 'rollout: { steps: [{ y: 10 }, { y: 100 }] }\n', /^rollout\.steps\[0\]\.hold: required on every step but the last/],
    ['rollout empty', 'rollout: { steps: [] }\n', /^rollout\.steps: needs at least one step/],
    ['rollout without steps', 'rollout: {}\n', /^rollout\.steps: required/],
    ['rollout hold bare number', 'rollout: { steps: [{ y: 10, hold: 300 }, { y: 100 }] }\n', /^rollout\.steps\[0\]\.hold: a duration needs a unit/],
    ['log level', 'log: { level: loud }\n', /^log\.level: must be one of/],
    ['access not boolean', 'log: { access: yes }\n', /^log\.access: expected true or false/],
    ['webhook not http', 'events: { webhook: "ftp://x" }\n', /^events\.webhook: must be an http: or https: URL/],
    ['section not a mapping', 'gates: 5\n', /^gates: expected a mapping/],
    ['unknown top-level key', 'proxyy: {}\n', /^proxyy: unknown key, did you mean proxy\?/],
    ['unknown key depth 2', 'proxy: { lisen: "0.0.0.0:1" }\n', /^proxy\.lisen: unknown key, did you mean listen\?/],
    ['unknown key depth 3', 'health: { passive: { eject: 1s } }\n', /^health\.passive\.eject: unknown key/],
    ['unknown key in a step', 'rollout: { steps: [{ y: 100, wait: 1s }] }\n', /^rollout\.steps\[0\]\.wait: unknown key/],
  ]
  for (const [name, yaml, expected] of cases) {
    const problems = problemsOf(withSections(yaml))
    t.equal(problems.length, 1, `${name}: one problem (${problems.join(' | ')})`)
    t.match(problems[0], expected, name)
  }
})

t.test('node problems name the node', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['not a url', /^pools\.x\.nodes\[1\]: not a URL/],
    ['ftp://10.0.0.1', /^pools\.x\.nodes\[1\]: must be an http: or https: URL/],
    ['http://user:pw@10.0.0.1', /^pools\.x\.nodes\[1\]: must not carry a user name or password/],
    ['http://10.0.0.1/?a=1', /^pools\.x\.nodes\[1\]: must not have a query or fragment/],
    ['http://10.0.0.1/#top', /^pools\.x\.nodes\[1\]: must not have a query or fragment/],
    ['http://10.0.0.1/kong', /^pools\.x\.nodes\[1\]: must not have a path, got \/kong/],
    ['http://127.0.0.1:8001/', /^pools\.x\.nodes\[1\]: http:\/\/127\.0\.0\.1:8001 is already listed at pools\.x\.nodes\[0\]/],
    ['{ url: http://10.0.0.1, weight: 0 }', /^pools\.x\.nodes\[1\]\.weight: must be above 0 and at most 1000/],
    ['{ url: http://10.0.0.1, weight: 1001 }', /^pools\.x\.nodes\[1\]\.weight: must be above 0 and at most 1000/],
    ['{ url: http://10.0.0.1, wieght: 2 }', /^pools\.x\.nodes\[1\]\.wieght: unknown key, did you mean weight\?/],
    ['{ weight: 2 }', /^pools\.x\.nodes\[1\]\.url: required/],
    ['{ url: http://10.0.0.1, name: "kong x1" }', /^pools\.x\.nodes\[1\]\.name: must be 1 to 63 letters, digits/],
    ['{ url: http://10.0.0.1, name: "" }', /^pools\.x\.nodes\[1\]\.name: must not be empty/],
    ['{ url: http://10.0.0.1, name: 7 }', /^pools\.x\.nodes\[1\]\.name: expected a string/],
    ['{ url: http://10.0.0.1, name: "127.0.0.1:8001" }', /^pools\.x\.nodes\[1\]: the name 127\.0\.0\.1:8001 is already used at pools\.x\.nodes\[0\]/],
    ['42', /^pools\.x\.nodes\[1\]: not a URL/],
  ]
  for (const [node, expected] of cases) {
    const problems = problemsOf(MINIMAL.replace('[http://127.0.0.1:8001]', `[http://127.0.0.1:8001, ${node}]`))
    t.equal(problems.length, 1, `${node}: one problem (${problems.join(' | ')})`)
    t.match(problems[0], expected, node)
  }
})

t.test('the same node in both pools is an error at the second', async (t) => {
  const problems = problemsOf(MINIMAL.replace('y: { nodes: [] }', 'y: { nodes: ["http://127.0.0.1:8001"] }'))
  t.same(problems, ['pools.y.nodes[0]: http://127.0.0.1:8001 is already listed at pools.x.nodes[0] (line 5)'])
})

t.test('pools: both required, nothing else, one node at least', async (t) => {
  t.match(problemsOf(`control: { token: ${TOKEN} }\npools:\n  x: { nodes: [http://a] }\n`), ['pools.y: required (line 2)'])
  t.match(problemsOf(`control: { token: ${TOKEN} }\npools:\n  x: { nodes: [] }\n  y: { nodes: [] }\n`), ['pools: needs at least one node in x or y (line 2)'])
  t.match(problemsOf(MINIMAL + '  z: { nodes: [] }\n'), [/^pools\.z: unknown key/])
  t.match(problemsOf(MINIMAL.replace('y: { nodes: [] }', 'y: {}')), ['pools.y.nodes: required (line 5)'])
  t.match(problemsOf(MINIMAL.replace('y: { nodes: [] }', 'y: { nodes: http://b }')), [/^pools\.y\.nodes: expected a list/])
  t.match(problemsOf(`control: { token: ${TOKEN} }\n`), ['pools: required'])
})

t.test('the control token is required, from the environment, and long enough', async (t) => {
  const fromEnv = MINIMAL.replace(TOKEN, '${CUTOVER_TOKEN}')
  t.same(problemsOf(fromEnv, {}), ['control.token: environment variable CUTOVER_TOKEN is not set (line 2)'])
  t.same(
    problemsOf(fromEnv, { CUTOVER_TOKEN: 'short' }).map((p) => p.replace(/,.*/, '')),
    ['control.token: too short: at least 8 characters (line 2)'],
  )
  t.same(problemsOf(MINIMAL.replace(`  token: ${TOKEN}\n`, '  listen: 127.0.0.1:1\n')), ['control.token: required (line 1)'])
  t.match(problemsOf(MINIMAL.replace(TOKEN, 'a-${}-b')), [/^control\.token: \$\{\} is not a valid environment variable reference/])
})

t.test('every problem is reported at once, in file order, with its line', async (t) => {
  const text = `proxy:
  lisen: 0.0.0.0:8080
  connect_timeout: 2
control:
  token: \${NOPE}
pools:
  x:
    nodes:
      - http://10.0.0.11:8000
      - not a url
  y:
    nodes: [http://10.0.0.11:8000]
split:
  y: 12.345
gates: { action: panic }
`
  const problems = problemsOf(text, {})
  t.same(
    problems.map((p) => p.replace(/: .*\(line/, ' (line')),
    ['proxy.lisen (line 2)', 'proxy.connect_timeout (line 3)', 'control.token (line 5)', 'pools.x.nodes[1] (line 10)', 'pools.y.nodes[0] (line 12)', 'split.y (line 14)', 'gates.action (line 15)'],
  )
})

t.test('YAML syntax errors are problems with their line', async (t) => {
  const problems = problemsOf('control:\n  token: abcdefgh\npools: [1\nsplit: 2\n')
  t.ok(problems.length >= 1)
  t.match(problems[0], /^yaml: .*\(line \d+\)$/)
  const dup = problemsOf(MINIMAL + 'split: {}\nsplit: {}\n')
  t.match(dup, [/^yaml: .*unique.*\(line 7\)$/])
  t.match(problemsOf(''), [/^\(root\): the configuration is empty/])
  t.match(problemsOf('- a\n- b\n'), [/expected a mapping/])
})

t.test('ConfigError carries the code, the problems and the source', async (t) => {
  try {
    parseConfig('proxy: 1\n', { env: ENV, source: 'my.yaml' })
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    t.ok(isCutoverError(err, 'CUTOVER_ERR_CONFIG_INVALID'))
    t.equal((err as ConfigError).code, 'CUTOVER_ERR_CONFIG_INVALID')
    t.equal((err as ConfigError).problems.length, 3)
    t.match((err as Error).message, /my\.yaml/)
  }
})

t.test('loadConfigFile reads a file, or reports the path it cannot read', async (t) => {
  const dir = t.testdir({ 'ok.yaml': MINIMAL })
  t.equal(loadConfigFile(join(dir, 'ok.yaml'), ENV).control.token, TOKEN)
  const missing = join(dir, 'missing.yaml')
  t.throws(() => loadConfigFile(missing, ENV), { code: 'CUTOVER_ERR_CONFIG_INVALID', problems: [`${missing}: cannot read the file (ENOENT)`] })
  writeFileSync(join(dir, 'bad.yaml'), MINIMAL + 'nope: 1\n')
  t.throws(() => loadConfigFile(join(dir, 'bad.yaml'), ENV), { code: 'CUTOVER_ERR_CONFIG_INVALID', problems: [/^nope: unknown key \(known: .*\) \(line 6\)$/] })
})

t.test('aliases expand, but not into themselves or without bound', async (t) => {
  const shared = valid(MINIMAL + 'split: { override_header: &h X-Pool, sticky: { header: *h } }\n')
  t.same(shared.split, { y: 0, override_header: 'x-pool', sticky: { header: 'x-pool' } })
  t.match(problemsOf(MINIMAL + 'health: &h\n  passive: *h\n'), [/^health\.passive: an alias refers to a mapping or list that contains it \(line 7\)$/])
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
  for (let i = 1; i < 7; i++)
    laughs.push(
      `${'abcdefg'[i]}: &${'abcdefg'[i]} [${Array(10)
        .fill('*' + 'abcdefg'[i - 1])
        .join(', ')}]`,
    )
  const problems = problemsOf(laughs.join('\n') + '\n')
  t.ok(
    problems.some((p) => /more than 100000 values once aliases are expanded/.test(p)),
    'expansion is bounded',
  )
})
