import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../src/config/load.js'
import { keysNeedingRestart } from '../src/control-plane.js'
import { tempDir } from './helpers/cutover.js'

t.test('a reload names the keys that need a restart: new TLS files for a listener are not among them, turning TLS on or off is', async (t) => {
  const dir = tempDir()
  for (const f of ['a.crt', 'a.key', 'b.crt', 'b.key']) writeFileSync(join(dir, f), 'x')
  const config = (proxyTls: string, controlTls: string) =>
    parseConfig(
      `proxy: { listen: 127.0.0.1:8080${proxyTls} }
control: { listen: 127.0.0.1:9901, token: token-0123456789abcdef${controlTls} }
state: { path: ${join(dir, 'state.json')} }
pools: { x: { nodes: [http://127.0.0.1:8001] }, y: { nodes: [] } }
`,
      { source: 'test' },
    )
  const tls = (name: string) => `, tls: { cert: ${join(dir, `${name}.crt`)}, key: ${join(dir, `${name}.key`)} }`
  t.same(keysNeedingRestart(config(tls('a'), tls('a')), config(tls('b'), tls('b'))), [], 'other files, same listeners')
  t.same(keysNeedingRestart(config('', ''), config(tls('a'), '')), ['proxy.tls'], 'proxy.tls turned on')
  t.same(keysNeedingRestart(config(tls('a'), tls('a')), config('', '')), ['proxy.tls', 'control.tls'], 'both turned off')
})
