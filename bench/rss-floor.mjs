// `node bench/rss-floor.mjs`: where conns-1000's peak RSS comes from. Four processes, each
// pinned to core 1, with this node: node itself idle; the stack cutover cannot go without
// (fastify listening, pino, prom-client's default metrics, yaml), idle; the raw-socket
// relay of ../shared/perf-probes (raw-proxy.js: 40 lines, no features) and cutover with
// bench/cutover-proxy.mjs's config, each idle and then through conns-1000's sequence (a
// one-second warm-up of 1,000 connections, then rounds of 1,000 connections at 1,000 req/s
// from bench/paced.c on core 0). For each, RSS split into the process's own memory
// (RssAnon) and the pages of node's binary and libraries it touched (RssFile): the
// second is shared with every process running the same binary, and how much of it a
// process holds depends on how the kernel cached the binary, not only on the process.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, getStatus, hasCommand, pinSelf, startChild, waitFor } from './children.mjs'
import { cutover } from './cutover-proxy.mjs'
import { runAutocannon } from './load.mjs'
import { PROBES_DIR, wholeNumber } from './options.mjs'
import { buildPacedC, runPacedC } from './paced.mjs'
import { memory, sampleRss } from './procstat.mjs'
import { startNginxUpstream } from './upstream.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const USAGE = `usage: node bench/rss-floor.mjs [--rounds N] [--duration S] [--probes DIR]
  --rounds N     paced rounds after the warm-up (default 3, as conns-1000)
  --duration S   seconds per round (default 4)
  --probes DIR   the perf-probes folder (default ../shared/perf-probes beside the checkout)
needs nginx, cc and taskset; Linux (/proc)`

// what every cutover loads before its first request, with nothing of cutover's own
const STACK = `
const app = require('fastify')({ logger: false })
require('pino')({ level: 'warn' })
require('prom-client').collectDefaultMetrics()
require('yaml').parse('proxy:\\n  listen: 127.0.0.1:0\\n')
app.get('/', async () => 'ok')
app.listen({ port: Number(process.argv[1]), host: '127.0.0.1' })
`

const mib = (kib) => (kib === null ? '-' : (kib / 1024).toFixed(1))

/**
 * One line per process: RSS idle and at its peak, each as own + file-backed, and what the
 * sequence added to each part.
 * @param {{ name: string, idle: { rssKiB: number, anonKiB: number, fileKiB: number }, peak?: { rssKiB: number, anonKiB: number, fileKiB: number } }[]} rows
 */
export function summarize(rows) {
  const part = (m) => `${mib(m.rssKiB)} MiB (own ${mib(m.anonKiB)} + file ${mib(m.fileKiB)})`
  return rows.map(({ name, idle, peak }) => {
    const line = `${name.padEnd(8)} idle ${part(idle)}`
    if (!peak) return line
    return `${line}; peak ${part(peak)}: the connections added own ${mib(peak.anonKiB - idle.anonKiB)}, file ${mib(peak.fileKiB - idle.fileKiB)}`
  })
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '4' },
      probes: { type: 'string', default: PROBES_DIR },
      help: { type: 'boolean', default: false },
    },
  })
  return { help: values.help, rounds: wholeNumber(values, 'rounds', 20), duration: wholeNumber(values, 'duration', 60), probes: values.probes }
}

/** Memory of pid once it has been idle for a second (the collector and the JIT settle). */
async function idleMemory(pid) {
  await new Promise((r) => setTimeout(r, 1000))
  return memory([pid])
}

async function main() {
  const opts = options(process.argv.slice(2))
  if (opts.help) return console.log(USAGE)
  const probe = join(opts.probes, 'raw-proxy.js')
  if (!existsSync(probe)) throw new Error(`${probe} is missing: pass --probes DIR`)
  for (const c of ['nginx', 'taskset']) if (!hasCommand(c)) throw new Error(`${c} is not installed\n${USAGE}`)
  if (memory([process.pid]).anonKiB === null) throw new Error(`no RssAnon in /proc/${process.pid}/status\n${USAGE}`)
  pinSelf(0)
  const tmp = mkdtempSync(join(tmpdir(), 'cutover-rss-floor-'))
  const pacedC = buildPacedC(join(tmp, 'paced-c'))
  if (!pacedC.binary) throw new Error(`bench/paced.c: ${pacedC.reason}`)
  const started = []
  const rows = []
  try {
    const up = await startNginxUpstream(join(tmp, 'upstream'), 2, { core: 0 })
    started.push(up)
    const [x, y] = [[up.ports[0]], [up.ports[1]]]

    for (const [name, args] of [
      ['node', ['-e', 'setInterval(() => {}, 1000)']],
      ['stack', ['-e', STACK, String(await freePort())]],
    ]) {
      const handle = startChild(process.execPath, args, { core: 1, cwd: ROOT })
      started.push(handle)
      if (name === 'stack' && !(await waitFor(async () => (await getStatus(Number(args[2]))) === 200, { timeoutMs: 10_000, exited: handle.exited }))) {
        throw new Error('the stack probe did not answer 200')
      }
      rows.push({ name, idle: await idleMemory(handle.pid) })
      await handle.stop(2000)
    }

    const env = { ...process.env, UPS: `http://127.0.0.1:${x[0]},http://127.0.0.1:${y[0]}` }
    const relays = [
      ['raw', async (port) => startChild(process.execPath, [probe, String(port)], { core: 1, env })],
      ['cutover', async (port) => cutover.start(join(tmp, 'cutover'), { port, controlPort: await freePort(), x, y, sticky: null }, { core: 1 })],
    ]
    for (const [name, start] of relays) {
      const port = await freePort()
      const handle = await start(port)
      started.push(handle)
      if (!(await waitFor(async () => (await getStatus(port)) === 200, { timeoutMs: 10_000, exited: handle.exited }))) throw new Error(`${name} did not answer 200`)
      const idle = await idleMemory(handle.pid)
      const url = `http://127.0.0.1:${port}/`
      const sampler = sampleRss([handle.pid], 50)
      await runAutocannon({ url, connections: 1000, duration: 1, method: 'GET', headers: {} })
      for (let round = 0; round < opts.rounds; round++) {
        const r = await runPacedC(pacedC.binary, { url, connections: 1000, rate: 1000, duration: opts.duration, core: 0 })
        if (r.errors > 0) throw new Error(`${name}: ${r.errors} errors in round ${round + 1}`)
      }
      rows.push({ name, idle, peak: sampler.stop() })
      await handle.stop(2000)
    }
    console.log(`node ${process.version}: RSS idle and through conns-1000's sequence (${opts.rounds} rounds of ${opts.duration} s)`)
    for (const line of summarize(rows)) console.log(line)
  } finally {
    for (const h of started.reverse()) await h.stop(2000)
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((err) => {
    console.error(`bench/rss-floor.mjs: ${err.message}`)
    process.exitCode = 1
  })
}
