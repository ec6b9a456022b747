import t from 'tap'
import { formatEffectiveConfig } from '../../src/config/print.js'
import { MINIMAL, problemsOf, valid } from './fixtures.js'

const strip = (problems: readonly string[]) => problems.map((p) => p.replace(/ \(line \d+\)$/, ''))

t.test('state.backend defaults to file; nothing about etcd is needed', async (t) => {
  t.same(valid(MINIMAL).state, { path: './var/cutover-state.json', backend: 'file' })
})

t.test('state.backend etcd: endpoints, prefix, lease TTL, user, replica id', async (t) => {
  const config = valid(`${MINIMAL}state:
  backend: etcd
  replica_id: edge-1
  etcd:
    endpoints: [http://10.0.0.5:2379, "https://etcd-2.internal:2379/"]
    prefix: /cutover/prod-eu
    username: cutover
    password: s3cret
`)
  t.same(config.state, {
    path: './var/cutover-state.json',
    backend: 'etcd',
    replica_id: 'edge-1',
    etcd: { endpoints: ['http://10.0.0.5:2379', 'https://etcd-2.internal:2379'], prefix: '/cutover/prod-eu', lease_ttl: 5000, username: 'cutover', password: 's3cret' },
  })
  const printed = formatEffectiveConfig(config)
  t.match(printed, /backend: etcd/)
  t.notMatch(printed, /s3cret/, 'the password is masked')
  t.same(valid(printed.replace(/password: .*/, 'password: s3cret').replace(/token: .*/, 'token: secret-token-123')).state, config.state, 'the printed config parses back to the same')
})

t.test('check names what is wrong in the state section', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['state: { backend: etcd }', /^state\.etcd: required when backend is etcd/],
    ['state: { backend: consul }', /^state\.backend: must be one of file, etcd/],
    ['state: { etcd: { endpoints: [http://a:2379], prefix: /c } }', /^state\.etcd: is set but backend is file/],
    ['state: { backend: etcd, etcd: { endpoints: [], prefix: /c } }', /^state\.etcd\.endpoints: expected a list of etcd client URLs/],
    ['state: { backend: etcd, etcd: { endpoints: [etcd:2379], prefix: /c } }', /^state\.etcd\.endpoints\[0\]: must be an http: or https: URL/],
    ['state: { backend: etcd, etcd: { endpoints: [http://etcd], prefix: /c } }', /^state\.etcd\.endpoints\[0\]: needs a port/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: cutover } }', /^state\.etcd\.prefix: must be a key path/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: /c/ } }', /^state\.etcd\.prefix: must be a key path/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379] } }', /^state\.etcd\.prefix: required/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: /c, lease_ttl: 1s } }', /^state\.etcd\.lease_ttl: must be at least 2s/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: /c, lease_ttl: 2500ms } }', /^state\.etcd\.lease_ttl: must be whole seconds/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: /c, username: u } }', /^state\.etcd: username and password go together/],
    ['state: { backend: etcd, etcd: { endpoints: [http://a:2379], prefix: /c, tls: { cert: /nonexistent.pem } } }', /^state\.etcd\.tls\.cert: cannot read/],
    ['state: { backend: etcd, replica_id: "a b", etcd: { endpoints: [http://a:2379], prefix: /c } }', /^state\.replica_id: must be 1 to 128/],
  ]
  for (const [yaml, expected] of cases) {
    const problems = strip(problemsOf(`${MINIMAL}${yaml}\n`))
    t.ok(
      problems.some((p) => expected.test(p)),
      `${yaml} -> ${problems.join(' | ')}`,
    )
  }
})
