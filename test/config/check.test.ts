import t from 'tap'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { runCheck } from '../../src/config/check.js'
import { loadConfigFile } from '../../src/config/load.js'
import { ENV, MINIMAL, TOKEN } from './fixtures.js'

const EXAMPLE = fileURLToPath(new URL('../../config/cutover.yaml', import.meta.url))

function check(path: string, env: Record<string, string | undefined>): { code: number; out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  const code = runCheck(
    path,
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  )
  return { code, out, err }
}

t.test('a valid file: effective config on out, exit 0', async (t) => {
  const dir = t.testdir({ 'ok.yaml': MINIMAL })
  const { code, out, err } = check(join(dir, 'ok.yaml'), ENV)
  t.equal(code, 0)
  t.same(err, [])
  const printed = parse(out.join('\n'))
  t.equal(printed.proxy.listen, '0.0.0.0:8080')
  t.equal(printed.control.token, '********')
  t.notMatch(out.join('\n'), TOKEN)
})

t.test('a bad file: one line per problem on err, exit 1', async (t) => {
  const dir = t.testdir({ 'bad.yaml': MINIMAL + 'split: { y: 101 }\ngates: { window: 5 }\n' })
  const { code, out, err } = check(join(dir, 'bad.yaml'), ENV)
  t.equal(code, 1)
  t.same(out, [])
  t.equal(err.length, 2)
  t.match(err, [/^split\.y: .*\(line 6\)$/, /^gates\.window: a duration needs a unit.*\(line 7\)$/])
})

t.test('a missing file: exit 1 naming the path', async (t) => {
  const { code, err } = check('/no/such/cutover.yaml', ENV)
  t.equal(code, 1)
  t.same(err, ['/no/such/cutover.yaml: cannot read the file (ENOENT)'])
})

t.test('the example config is valid with CUTOVER_TOKEN set, and not without', async (t) => {
  const config = loadConfigFile(EXAMPLE, { CUTOVER_TOKEN: 'example-token' })
  t.equal(config.pools.x.nodes.length > 0 && config.pools.y.nodes.length > 0, true)
  t.match(config.health.active, { path: '/status/ready', port: 8100 })
  t.same(config.split.sticky, { header: 'x-consumer-id' })
  t.equal(config.split.override_header, 'x-cutover-pool')
  t.same(
    config.rollout!.steps.map((s) => s.y),
    [10, 50, 100],
  )
  t.equal(check(EXAMPLE, { CUTOVER_TOKEN: 'example-token' }).code, 0)
  t.same(check(EXAMPLE, {}).err, [`control.token: environment variable CUTOVER_TOKEN is not set (line ${lineOf('token: ${CUTOVER_TOKEN}')})`])
})

function lineOf(needle: string): number {
  const text = readFileSync(EXAMPLE, 'utf8')
  return text.slice(0, text.indexOf(needle)).split('\n').length
}
