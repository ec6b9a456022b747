/**
 * The ctl side of issue 14 against a real cutover: nodes drain|maint|ready|weight, the
 * node names for completion, status --watch redrawing, and the bash completion script
 * completing commands, verbs, pools and node names.
 */

import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runCtl } from '../../src/ctl/ctl.js'
import { completionScript } from '../../src/ctl/completion.js'
import { nodeRequest } from '../../src/ctl/nodes.js'
import { CLEAR } from '../../src/ctl/watch.js'
import { isCutoverError } from '../../src/errors.js'
import { OPERATOR, startOperatorCutover, VIEWER } from '../control/operator-harness.js'
import { tempDir } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

function io(url: string, token: string, frames = 0) {
  const out: string[] = []
  const err: string[] = []
  let waits = 0
  return {
    out,
    err,
    io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), env: { CUTOVER_URL: url, CUTOVER_TOKEN: token }, wait: async () => ++waits < frames },
  }
}

t.test('ctl nodes drain, maint --force, ready, weight N and reset', async (t) => {
  const x1 = await startUpstream('x1')
  const y1 = await startUpstream('y1')
  t.teardown(() => Promise.all([x1.close(), y1.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [`{ url: ${x1.url}, name: kong-x1 }`], y: [`{ url: ${y1.url}, name: kong-y1 }`] })
  t.teardown(() => c.cutover.close())
  const ctl = async (token: string, ...argv: string[]) => {
    const r = io(c.controlUrl, token)
    const code = await runCtl(argv, r.io)
    return { code, out: r.out.join('\n'), err: r.err.join('\n') }
  }

  t.equal((await ctl(OPERATOR, 'split', '10')).code, 0)
  const drained = await ctl(OPERATOR, 'nodes', 'drain', 'y', 'kong-y1')
  t.equal(drained.code, 1, 'the last usable node of y, which has 10%: refused')
  t.match(drained.err, /409 .*last usable node of pool y.*force/)
  const forced = await ctl(OPERATOR, 'nodes', 'drain', 'y', 'kong-y1', '--force')
  t.equal(forced.code, 0, forced.err)
  t.match(forced.out, /^POOL\s+NODE\s+URL\s+ADMIN\s+WEIGHT\s+HEALTH/)
  t.match(forced.out, /\ny\s+kong-y1\s+\S+\s+drain\s+1\s/)
  t.equal((await ctl(OPERATOR, 'nodes', 'ready', 'y', 'kong-y1')).code, 0)
  const weighted = await ctl(OPERATOR, 'nodes', 'weight', 'x', 'kong-x1', '2.5')
  t.match(weighted.out, /\nx\s+kong-x1\s+\S+\s+ready\s+2\.5 \(runtime; config 1\)/)
  t.equal((await ctl(OPERATOR, 'nodes', 'weight', 'x', 'kong-x1', 'reset')).code, 0)
  t.notMatch((await ctl(OPERATOR, 'nodes')).out, /ADMIN/, 'no node changed: the plain table')
  const viewer = await ctl(VIEWER, 'nodes', 'maint', 'x', 'kong-x1')
  t.equal(viewer.code, 1)
  t.match(viewer.err, /403 the viewer token may read, not change/)
  t.same((await ctl(VIEWER, 'nodes', '--names', 'y')).out, 'kong-y1')
  t.same((await ctl(VIEWER, 'nodes', '--names')).out, 'kong-x1\nkong-y1')
  const events = (await ctl(VIEWER, 'events')).out
  t.match(events, /y node kong-y1: drain \(was ready\), forced by the API \(operator from 127\.0\.0\.1\)/)
  t.match(events, /x node kong-x1: weight 1 \(the config's\) \(was 2\.5\) by the API/)
})

t.test('nodes arguments are checked before anything is sent', async (t) => {
  t.same(nodeRequest(['maint', 'y', 'kong y/1'], true), { path: '/v1/nodes/y/kong%20y%2F1', body: { admin: 'maint', force: true } })
  t.same(nodeRequest(['ready', 'x', 'a'], true), { path: '/v1/nodes/x/a', body: { admin: 'ready' } })
  for (const [args, message] of [
    [['stop', 'x', 'a'], "nodes: expected drain, maint, ready or weight, got 'stop'"],
    [['drain', 'z', 'a'], "nodes drain: expected the pool, x or y, got 'z'"],
    [['drain', 'x'], "nodes drain: expected the node's name as ctl nodes shows it"],
    [['drain', 'x', 'a', '3'], "nodes drain: unexpected '3'"],
    [['weight', 'x', 'a', '0'], "nodes weight: expected a weight above 0 and at most 1000, or reset, got '0'"],
    [['weight', 'x', 'a'], 'nodes weight: expected a weight above 0 and at most 1000, or reset, got nothing'],
  ] as const) {
    let err: unknown
    try {
      nodeRequest(args, false)
    } catch (e) {
      err = e
    }
    t.ok(isCutoverError(err, 'CUTOVER_ERR_USAGE') && err.message === message, `${args.join(' ')}: ${String(err)}`)
  }
})

t.test('status --watch redraws the status, the nodes and the events until stopped', async (t) => {
  const x1 = await startUpstream('x1')
  t.teardown(() => x1.close())
  const c = await startOperatorCutover({ x: [`{ url: ${x1.url}, name: kong-x1 }`], y: [] })
  t.teardown(() => c.cutover.close())
  const r = io(c.controlUrl, VIEWER, 3)
  t.equal(await runCtl(['status', '--watch', '--interval', '1'], r.io), 0)
  t.equal(r.out.length, 3, 'three frames, then the wait said stop')
  for (const frame of r.out) {
    t.ok(frame.startsWith(CLEAR), 'each frame clears the screen first')
    t.match(frame, /cutover http:\/\/127\.0\.0\.1:\d+ .*Ctrl-C/)
    t.match(frame, /kong-x1/)
    t.match(frame, /Recent events:\n\s+1 .*cutover started/)
  }
  const bad = io(c.controlUrl, VIEWER)
  t.equal(await runCtl(['status', '--watch', '--interval', '0'], bad.io), 2)
  t.match(bad.err[0], /--interval expects whole seconds from 1 to 3600, got '0'/)
})

t.test('bash completion completes commands, verbs, pools and node names', async (t) => {
  const dir = tempDir()
  const script = join(dir, 'cutover.bash')
  writeFileSync(script, completionScript('bash'))
  t.equal(spawnSync('bash', ['-n', script]).status, 0, 'the script parses')
  // a stand-in cutover on the PATH answers `ctl nodes --names y` as the real one would
  writeFileSync(join(dir, 'cutover'), '#!/bin/sh\n[ "$2 $3 $4" = "nodes --names y" ] && printf "kong-y1\\nkong-y2\\n"\n', { mode: 0o755 })
  const complete = (line: string): string[] => {
    const words = line.split(' ')
    const res = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _cutover_ctl; printf '%s\\n' "\${COMPREPLY[@]}"`], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    })
    return res.stdout.split('\n').filter(Boolean)
  }
  t.same(complete('cutover ctl st'), ['status'])
  t.same(complete('cutover ctl nodes '), ['drain', 'maint', 'ready', 'weight'])
  t.same(complete('cutover ctl nodes drain '), ['x', 'y'])
  t.same(complete('cutover ctl nodes drain y kong-y'), ['kong-y1', 'kong-y2'])
  t.same(complete('cutover ctl nodes weight y kong-y1 r'), ['reset'])
  t.same(complete('cutover ctl status --wa'), ['--watch'])
  t.same(complete('cutover ctl completion '), ['bash', 'zsh'])
  const zsh = completionScript('zsh')
  t.match(zsh, /^#compdef cutover\n/)
  t.match(zsh, /compadd -- drain maint ready weight/)
  const r = io('http://127.0.0.1:1', '')
  t.equal(await runCtl(['completion', 'fish'], r.io), 2)
  t.match(r.err[0], /completion: expected bash or zsh, got 'fish'/)
})

t.test('ctl events pages through more than one answer of the API (1,000 a page)', async (t) => {
  const x1 = await startUpstream('x1')
  const x2 = await startUpstream('x2')
  t.teardown(() => Promise.all([x1.close(), x2.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [`{ url: ${x1.url}, name: kong-x1 }`, `{ url: ${x2.url}, name: kong-x2 }`], y: [] })
  t.teardown(() => c.cutover.close())
  for (let i = 0; i < 1000; i++) await c.call(OPERATOR, 'PUT', '/v1/nodes/x/kong-x1', { weight: (i % 2) + 2 })
  const r = io(c.controlUrl, VIEWER)
  t.equal(await runCtl(['events', '--json'], r.io), 0)
  const ids = r.out.map((l) => JSON.parse(l).id as number)
  t.equal(ids.length, 1001, 'the start-up event and 1,000 node changes: one more than a page, none left out')
  t.same(
    ids,
    Array.from({ length: 1001 }, (_, i) => i + 1),
  )
})
