// `node bench/p99-floor.mjs`: where the fixed-rate p99 of any Node.js relay sits on this
// machine. nginx, HAProxy, the two raw-socket probes of ../shared/perf-probes (raw-proxy.js
// forwards the head unparsed: a ceiling, not a proxy; raw2-proxy.js parses and rewrites
// it, ~80 lines) and cutover, each pinned to core 1 and driven by bench/paced.c (core 0,
// beside the nginx upstream) at half of nginx's wrk peak, in interleaved rounds: p99 and
// CPU per request of every run, and each median p99 as a ratio to nginx's.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, getStatus, hasCommand, pinSelf, startChild, waitFor } from './children.mjs'
import { cutover } from './cutover-proxy.mjs'
import { runWrk } from './load.mjs'
import { PROBES_DIR, wholeNumber } from './options.mjs'
import { buildPacedC, runPacedC } from './paced.mjs'
import { cpuSeconds } from './procstat.mjs'
import { haproxy, nginx } from './rivals.mjs'
import { median } from './table.mjs'
import { startNginxUpstream } from './upstream.mjs'

const PROBES = ['raw-proxy.js', 'raw2-proxy.js']
const USAGE = `usage: node bench/p99-floor.mjs [--rounds N] [--duration S] [--connections N] [--probes DIR]
  --rounds N        interleaved rounds (default 7: a single run's p99 swings by 10x here)
  --duration S      seconds per run (default 4)
  --connections N   the paced client's connections (default 50, as rate-p99)
  --probes DIR      the perf-probes folder (default ../shared/perf-probes beside the checkout)
needs nginx, wrk, cc and taskset; HAProxy is measured where installed`

/**
 * One line per proxy: its runs' p99 and CPU per request, and its median p99 over nginx's.
 * @param {Record<string, { p99: number, cpuUs: number, cpuPct: number }[]>} runs by proxy, nginx among them
 */
export function summarize(runs) {
  if (!runs.nginx?.length) throw new Error('no nginx runs: the ratios are to nginx')
  const base = median(runs.nginx.map((r) => r.p99))
  return Object.entries(runs).map(([name, list]) => {
    const p99 = median(list.map((r) => r.p99))
    const ratio = base > 0 ? p99 / base : null
    return `${name.padEnd(8)} p99 median ${p99.toFixed(2)} ms (${ratio === null ? '-' : ratio.toFixed(2)}x nginx), runs ${list.map((r) => r.p99.toFixed(2)).join(', ')}; cpu/req median ${median(list.map((r) => r.cpuUs)).toFixed(1)} us, cpu% ${list.map((r) => r.cpuPct.toFixed(0)).join(', ')}`
  })
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '7' },
      duration: { type: 'string', default: '4' },
      connections: { type: 'string', default: '50' },
      probes: { type: 'string', default: PROBES_DIR },
      help: { type: 'boolean', default: false },
    },
  })
  return {
    help: values.help,
    rounds: wholeNumber(values, 'rounds', 50),
    duration: wholeNumber(values, 'duration', 60),
    connections: wholeNumber(values, 'connections', 1000),
    probes: values.probes,
  }
}

async function main() {
  const opts = options(process.argv.slice(2))
  if (opts.help) return console.log(USAGE)
  for (const p of PROBES) if (!existsSync(join(opts.probes, p))) throw new Error(`${join(opts.probes, p)} is missing: pass --probes DIR`)
  for (const c of ['nginx', 'wrk', 'taskset']) if (!hasCommand(c)) throw new Error(`${c} is not installed\n${USAGE}`)
  pinSelf(0)
  const tmp = mkdtempSync(join(tmpdir(), 'cutover-p99-floor-'))
  const pacedC = buildPacedC(join(tmp, 'paced-c'))
  if (!pacedC.binary) throw new Error(`bench/paced.c: ${pacedC.reason}`)
  const started = []
  try {
    const up = await startNginxUpstream(join(tmp, 'upstream'), 2, { core: 0 })
    started.push(up)
    const [x, y] = [[up.ports[0]], [up.ports[1]]]
    const targets = []
    for (const rival of [nginx, haproxy, cutover]) {
      if (!rival.available()) continue
      const route = { port: await freePort(), controlPort: await freePort(), x, y, sticky: null }
      const handle = await rival.start(join(tmp, rival.name), route, { core: 1 })
      started.push(handle)
      targets.push({ name: rival.name, pid: handle.pid, port: route.port })
    }
    for (const probe of PROBES) {
      const port = await freePort()
      const env = { ...process.env, UPS: `http://127.0.0.1:${x[0]},http://127.0.0.1:${y[0]}` }
      const handle = startChild(process.execPath, [join(opts.probes, probe), String(port)], { core: 1, env })
      started.push(handle)
      if (!(await waitFor(async () => (await getStatus(port)) === 200, { timeoutMs: 10_000, exited: handle.exited }))) throw new Error(`${probe} did not answer 200`)
      targets.push({ name: probe.replace('-proxy.js', ''), pid: handle.pid, port })
    }
    const spec = (t, duration) => ({ url: `http://127.0.0.1:${t.port}/`, connections: 100, duration, method: 'GET', headers: {} })
    for (const t of targets) await runWrk(spec(t, 1), { core: 0, dir: tmp })
    const peak = await runWrk(spec(targets[0], 3), { core: 0, dir: tmp })
    const rate = Math.round(peak.rps / 2)
    console.log(`node ${process.version}, ${opts.rounds} rounds of ${opts.duration} s, ${opts.connections} connections, ${rate} req/s (half of nginx's wrk peak, ${Math.round(peak.rps)})`)
    const runs = Object.fromEntries(targets.map((t) => [t.name, []]))
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of round % 2 ? [...targets].reverse() : targets) {
        const cpu0 = cpuSeconds([t.pid])
        const r = await runPacedC(pacedC.binary, { url: `http://127.0.0.1:${t.port}/`, connections: opts.connections, rate, duration: opts.duration, core: 0 })
        const cpu = cpuSeconds([t.pid]) - cpu0
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} errors in round ${round + 1}`)
        runs[t.name].push({ p99: r.p99, cpuUs: (cpu / r.responses) * 1e6, cpuPct: (cpu / opts.duration) * 100 })
      }
    }
    for (const line of summarize(runs)) console.log(line)
  } finally {
    for (const h of started.reverse()) await h.stop(2000)
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((err) => {
    console.error(`bench/p99-floor.mjs: ${err.message}`)
    process.exitCode = 1
  })
}
