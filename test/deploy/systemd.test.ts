/**
 * deploy/systemd/cutover.service: the settings the README relies on, and
 * `systemd-analyze verify` finds nothing to complain about where it is installed.
 */

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { cutoverNodeFlags } from '../../bench/cutover-proxy.mjs'

const UNIT = resolve(import.meta.dirname, '../../deploy/systemd/cutover.service')
const DEFAULT_DRAIN_SECONDS = 30

/** `Key=value` lines of one section; repeated keys keep every value. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) current = header[1]
    else if (current === name) {
      const i = line.indexOf('=')
      const key = line.slice(0, i)
      out.set(key, [...(out.get(key) ?? []), line.slice(i + 1)])
    }
  }
  return out
}

const text = readFileSync(UNIT, 'utf8')
const service = section(text, 'Service')
const one = (key: string) => service.get(key)?.at(-1)

t.test('service settings', async (t) => {
  t.ok(one('DynamicUser') === 'yes' || one('User') === 'cutover', 'not root')
  t.equal(one('StateDirectory'), 'cutover')
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID')
  t.equal(one('KillSignal'), 'SIGTERM')
  t.ok(Number(one('TimeoutStopSec')) > DEFAULT_DRAIN_SECONDS, 'TimeoutStopSec outlasts drain_timeout')
  t.match(one('EnvironmentFile'), /^-?\/etc\/cutover\//)
  t.equal(one('Restart'), 'on-failure')
  t.match(one('ExecStart'), /bin\/cutover\.js --config \/etc\/cutover\/cutover\.yaml$/)
  const flags = cutoverNodeFlags(resolve(import.meta.dirname, '../../bin/cutover.js'))
  t.equal(
    String(one('ExecStart'))
      .split(' ')
      .slice(1, 1 + flags.length)
      .join(' '),
    flags.join(' '),
    "node gets bin/cutover.js's flags",
  )
  t.equal(one('ProtectSystem'), 'strict')
  t.equal(one('NoNewPrivileges'), 'yes')
  t.equal(one('CapabilityBoundingSet'), '')
  t.not(one('MemoryDenyWriteExecute'), 'yes', "V8's JIT needs W+X pages")
  t.same(section(text, 'Install').get('WantedBy'), ['multi-user.target'])
})

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0
t.test('systemd-analyze verify', { skip: !hasAnalyze && 'systemd-analyze not installed' }, async (t) => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' })
  t.equal(r.status, 0)
  t.equal((r.stdout + r.stderr).trim(), '', 'no warnings')
})
