/**
 * bin/cutover.js starts node with V8 heap flags on its `#!/usr/bin/env -S node FLAGS`
 * line (bench/README.md, "Memory, 2026-11-29 evening"): `npx cutover` and a direct run of
 * the file get them from the kernel, the image's entrypoint and CMD name them, the bench
 * reads them from that line, and node:cluster hands them to every worker.
 */

import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cutoverNodeFlags } from '../../bench/cutover-proxy.mjs'
import { TOKEN, tempDir } from '../helpers/cutover.js'
import { BIN, yaml } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50', '--no-maglev']

t.test('the first line of bin/cutover.js names the flags', async (t) => {
  t.same(cutoverNodeFlags(BIN), FLAGS)
  const dir = tempDir()
  const other = join(dir, 'other.js')
  writeFileSync(other, '#!/usr/bin/env node\n')
  t.same(cutoverNodeFlags(other), [], 'a plain `env node` line: no flags')
  writeFileSync(other, '#!/bin/sh\n')
  t.throws(() => cutoverNodeFlags(other), /first line is not/)
})

t.test('this node accepts the flags, and they cap the young generation at 2 x 8 MiB', async (t) => {
  // objects that survive a few scavenges each: V8 grows the young generation to its cap
  // prints the size new_space had most often over 80 samples: where it settled. Not the
  // largest: Node 24's V8 counts pages in flight during a scavenge, up to 16 MiB + 17 pages
  // (21,233,664 bytes) seen while tap ran other files beside it
  const script = `const v8 = require('v8'); const seen = new Map(); let keep = []
for (let i = 0; i < 4e6; i++) {
  keep.push({ i }); if (keep.length > 300000) keep = keep.slice(150000)
  if (i % 50000 === 0) { const n = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size; seen.set(n, (seen.get(n) ?? 0) + 1) }
}
console.log([...seen].sort((a, b) => b[1] - a[1])[0][0])`
  const run = (flags: string[]) => spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' })
  const MiB = 1024 * 1024
  const without = run([])
  t.ok(Number(without.stdout) > 16 * MiB, `without the flags it settles past 16 MiB: ${without.stdout.trim()} bytes`)
  const withFlags = run(FLAGS)
  // an unknown flag makes node exit 9 ("bad option")
  t.equal(withFlags.status, 0, `node ${FLAGS.join(' ')} runs: ${withFlags.stderr}`)
  // 2 x 8 MiB of semi-spaces, where without the flags it settles at 32 (Node 20) or 64 MiB (Node 24)
  t.ok(Number(withFlags.stdout) > 0 && Number(withFlags.stdout) <= 16 * MiB, `with them it settles at 16 MiB at most: ${withFlags.stdout.trim()} bytes`)
})

t.test('run through its first line, the primary and every worker have the flags', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y.url], '', 'workers: 2'))
  // BIN itself, not `node BIN`: the kernel reads its #! line, as for `npx cutover`
  const child = spawn(BIN, ['--config', path], { env: { ...process.env, TEST_TOKEN: TOKEN } })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  // a log line's last "pid" (JSON.parse keeps the last of a repeated key) is the worker's
  const workers = () =>
    out
      .split('\n')
      .filter((line) => line.includes('"msg":"worker listening"'))
      .map((line) => Number(JSON.parse(line).pid))
  await waitUntil('two workers listening', () => workers().length === 2, 30_000)
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  const primary = cmdline(child.pid!)
  t.match(primary[0], /node$/, 'env ran node')
  t.same(primary.slice(1, 1 + FLAGS.length), FLAGS, 'the primary')
  t.equal(new Set([child.pid, ...workers()]).size, 3, 'three processes')
  for (const pid of workers()) t.same(cmdline(pid).slice(1, 1 + FLAGS.length), FLAGS, `worker ${pid}`)
})
