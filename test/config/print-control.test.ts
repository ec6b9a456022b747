// `cutover check` prints issue 14's control keys without their secrets, and the output parses back.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { formatEffectiveConfig, MASKED_TOKEN } from '../../src/config/print.js'
import { tempDir } from '../helpers/cutover.js'

t.test('token files by path, the viewer token masked, control.tls by path, the audit log sizes', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'op'), 'operator-from-file-1\n')
  const cert = join(dir, 'c.crt')
  const key = join(dir, 'c.key')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=t', '-keyout', key, '-out', cert])
  t.equal(made.status, 0)
  const text = `control: { token_file: ${join(dir, 'op')}, viewer_token: viewer-secret-123, tls: { cert: ${cert}, key: ${key} } }
pools: { x: { nodes: [http://10.0.0.1:8000] }, y: { nodes: [] } }
events: { audit: { max_size: 1mib, keep: 2 } }
`
  const config = parseConfig(text, { source: 'test' })
  t.equal(config.control.token, 'operator-from-file-1')
  t.equal(config.control.viewer_token, 'viewer-secret-123')
  const printed = formatEffectiveConfig(config)
  t.notMatch(printed, 'operator-from-file-1')
  t.notMatch(printed, 'viewer-secret-123')
  t.match(printed, `token_file: ${join(dir, 'op')}`)
  t.match(printed, `viewer_token: "${MASKED_TOKEN}"`)
  t.match(printed, `cert: ${cert}`)
  t.match(printed, 'max_size: 1048576')
  const again = parseConfig(printed.replace(`"${MASKED_TOKEN}"`, 'viewer-secret-123'), { source: 'printed' })
  t.same(again.control, config.control, 'parses back to the same control section')
  t.same(again.events, config.events)
})
