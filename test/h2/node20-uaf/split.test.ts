// Whose use of node:http2 aborts Node 20 under the h2 fuzz (test/h2/h2-fuzz.test.ts)? The
// fuzz's connections, with its two cutovers each in a process of its own (dist/: npm run build
// first), and with CUTOVER_H2SPLIT_NODES=1 its nodes in another (nodes-child.ts). A child that
// dies is reported as CHILD <name> ... signal SIGABRT; the test process aborting shows as
// SIGABRT. No judging here: the fuzz does that. Skipped unless CUTOVER_H2SPLIT=1.
//   CUTOVER_H2SPLIT=1 CUTOVER_H2FUZZ_SEED=2 npx tap --disable-coverage test/h2/node20-uaf/split.test.ts
// CUTOVER_H2SPLIT_VALGRIND=<file, %p for the pid> runs the nodes' process under valgrind
// (memcheck; 'fd2' with CUTOVER_H2SPLIT_TRACE=1 interleaves a JS stack for each stream close,
// respond and GOAWAY with its reports; CUTOVER_H2SPLIT_STDERR=<file> keeps that stderr).
// CUTOVER_H2SPLIT_VALGRIND_CUTOVER=<file, %p> does the same for the two cutovers' processes
// (with 'fd2' and CUTOVER_H2SPLIT_STDERR_CUTOVER=<file>: the reports in <file>.plain, .tls).
// Keep CUTOVER_H2FUZZ_CONNS to 40 or so under valgrind, and give tap -t 900.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { testConfigYaml } from '../../helpers/cutover.js'
import { tlsFiles } from '../../helpers/h2.js'
import { runConnection } from '../h2-fuzz/client.js'
import { type FuzzNode, h1FuzzNode, h2FuzzNode, type Records } from '../h2-fuzz/nodes.js'
import { connectionRandom, type ScriptedStream, scriptConnection } from '../h2-fuzz/script.js'

const SEED = Number(process.env.CUTOVER_H2FUZZ_SEED ?? 20261201)
const CONNS = Number(process.env.CUTOVER_H2FUZZ_CONNS ?? 100)
const CAP = 3

const ASKED = process.env.CUTOVER_H2SPLIT === '1'

t.test(`the h2 fuzz's traffic, its processes apart (seed ${SEED}, ${CONNS} connections)`, { skip: ASKED ? false : 'set CUTOVER_H2SPLIT=1 to run (a diagnosis, see the head comment)' }, async (t) => {
  const scripts = new Map<number, ScriptedStream>()
  const records: Records = { attempts: new Map(), collateral: new Set() }
  const separate = process.env.CUTOVER_H2SPLIT_NODES === '1'
  const nodes: FuzzNode[] = separate
    ? []
    : await Promise.all([
        h2FuzzNode('h2a', scripts, records),
        h2FuzzNode('h2b', scripts, records),
        h1FuzzNode('h1a', scripts, records),
        h1FuzzNode('h1b', scripts, records),
        h1FuzzNode('h1c', scripts, records),
      ])
  let ports5 = nodes.map((n) => n.port)
  const children: ChildProcess[] = []
  if (separate) {
    ports5 = await new Promise<number[]>((resolve, reject) => {
      const args = [...process.execArgv, join(import.meta.dirname, 'nodes-child.ts')]
      const vg = process.env.CUTOVER_H2SPLIT_VALGRIND
      const child = vg
        ? spawn('valgrind', ['--undef-value-errors=no', '--error-limit=no', ...(vg === 'fd2' ? ['--log-fd=2'] : [`--log-file=${vg}`]), process.execPath, ...args], {
            stdio: ['ignore', 'pipe', 'pipe'],
          })
        : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let err = ''
      child.stderr?.on('data', (c) => (err += c))
      if (process.env.CUTOVER_H2SPLIT_STDERR) child.stderr?.pipe(createWriteStream(process.env.CUTOVER_H2SPLIT_STDERR))
      child.stdout?.once('data', (c) => resolve(JSON.parse(String(c))))
      child.on('exit', (code, signal) => {
        const msg = `CHILD nodes pid ${child.pid} exited code ${code} signal ${signal} ${err.slice(-400)}`
        console.error(msg)
        reject(new Error(msg))
      })
    })
  }
  const [h2a, h2b, h1a, h1b, h1c] = ports5.map((port) => ({ port }))
  const tls = tlsFiles()
  const options = (proxy: string) => ({
    x: [`{ url: "http://127.0.0.1:${h1a.port}", h2: "h2c://127.0.0.1:${h2a.port}" }`, `{ url: "http://127.0.0.1:${h1b.port}", h2: "h2c://127.0.0.1:${h2b.port}" }`],
    y: [`http://127.0.0.1:${h1c.port}`],
    proxy: `  request_timeout: 2500ms\n  idle_timeout: 2500ms\n  connect_timeout: 500ms\n  retries: 1\n  upstream_max_connections: ${CAP}\n${proxy}`,
    extra: 'split:\n  y: 50\nhealth:\n  passive:\n    max_failures: 1000000\ngates:\n  min_requests: 1000000\n',
  })
  const start = (name: string, proxy: string) =>
    new Promise<number>((resolve, reject) => {
      const yaml = testConfigYaml(options(proxy), mkdtempSync(join(tmpdir(), 'n20split-')))
      const args = [join(import.meta.dirname, 'child.mjs'), Buffer.from(yaml).toString('base64')]
      const vg = process.env.CUTOVER_H2SPLIT_VALGRIND_CUTOVER
      const child = vg
        ? spawn('valgrind', ['--undef-value-errors=no', '--error-limit=no', ...(vg === 'fd2' ? ['--log-fd=2'] : [`--log-file=${vg}`]), process.execPath, ...args], {
            stdio: ['ignore', 'pipe', 'pipe'],
          })
        : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let err = ''
      child.stderr?.on('data', (c) => (err += c))
      if (process.env.CUTOVER_H2SPLIT_STDERR_CUTOVER) child.stderr?.pipe(createWriteStream(`${process.env.CUTOVER_H2SPLIT_STDERR_CUTOVER}.${name}`))
      child.stdout?.once('data', (c) => resolve(JSON.parse(String(c)).port))
      child.on('exit', (code, signal) => {
        const msg = `CHILD ${name} pid ${child.pid} exited code ${code} signal ${signal} ${err.slice(-400)}`
        console.error(msg)
        reject(new Error(msg))
      })
    })
  const ports = { plain: await start('plain', ''), tls: await start('tls', `  tls: { cert: ${tls.cert}, key: ${tls.key} }\n`) }
  t.teardown(async () => {
    for (const c of children) c.removeAllListeners('exit').kill('SIGTERM')
    await Promise.all(nodes.map((n) => n.close()))
  })
  const queue = Array.from({ length: CONNS }, (_, n) => n)
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const conn = scriptConnection(SEED, n)
        for (const s of conn.streams) scripts.set(s.id, s)
        await runConnection(ports, conn, connectionRandom(SEED ^ 0x5bd1e995, n), 20_000)
      }
    }),
  )
  if (process.env.CUTOVER_H2SPLIT_VALGRIND || process.env.CUTOVER_H2SPLIT_VALGRIND_CUTOVER) await new Promise((r) => setTimeout(r, 3000))
  t.pass('no abort')
})
