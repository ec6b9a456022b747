// Does shadowing slow the client (issue 13: p99 of x traffic with shadowing on <= 1.1x off)?
// The same paced GET load through cutover (y at 0, every request answered by x) with
// shadowing off and on (--share, default 100, to a y that answers after --y-delay ms, a cap
// of 32 copies and a 1 s time limit: with a slow y most copies are dropped at the cap or the
// limit), off and on interleaved in the same run; prints p50/p99 of x traffic for each, the
// ratio of the p99 medians (the issue's figure), cutover's CPU% and the shadow totals.
// Pinned when it can be: cutover on core 1, x, y and the load on core 0. Also a scenario of
// `npm run bench -- --scenario shadow`. Build first (`npm run build`), or point CUTOVER_CLI
// at a compiled cli.js; CUTOVER_NODE_ARGS adds node flags to cutover's process (a profile).
// --stalls also counts cutover's own-work event-loop stalls (bench/own-stalls.mjs): a figure
// that other processes on a busy machine do not blur the way they blur p99.
//   node bench/shadow.mjs [--rate 400] [--duration 8] [--rounds 2] [--y-delay 2000] [--share 100] [--stalls] [--json]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, getStatus, pinningPlan, pinSelf, startChild, waitFor } from './children.mjs'
import { cutoverNodeFlags } from './cutover-proxy.mjs'
import { runPaced } from './paced.mjs'
import { cpuSeconds, processTree } from './procstat.mjs'

/** The issue's goal: p99 with shadowing on at most this times p99 with it off. */
export const SHADOW_GOAL = 1.1

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = process.env.CUTOVER_CLI ?? join(ROOT, 'dist', 'cli.js')
const TOKEN = 'bench-token-0123456789'
// extra node flags for cutover alone, after those of bin/cutover.js's first line (the ones
// `npx cutover` runs with), e.g. CUTOVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'
const NODE_ARGS = (process.env.CUTOVER_NODE_ARGS ?? '').split(' ').filter(Boolean)

// x: a JSON answer of about 1 KB at once; y: the same after yDelay ms
const NODE = `
const http = require('node:http')
const body = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, name: 'item-' + i, price: i * 3 })) })
const delay = Number(process.argv[2])
http.createServer((req, res) => {
  req.resume()
  const send = () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body) }
  if (delay > 0) setTimeout(send, delay); else send()
}).listen(Number(process.argv[1]), '127.0.0.1')
`

async function startNode(port, delay, core) {
  const child = startChild(process.execPath, ['-e', NODE, String(port), String(delay)], { core })
  if (!(await waitFor(async () => (delay > 0 ? true : (await getStatus(port)) === 200), { timeoutMs: 10_000, exited: child.exited })))
    throw new Error(`node on ${port} did not start: ${child.output()}`)
  return child
}

async function startCutover(dir, ports, shadow, share, core, stallsFile) {
  const config = join(dir, `cutover-${shadow ? 'on' : 'off'}.yaml`)
  writeFileSync(
    config,
    `proxy: { listen: 127.0.0.1:${ports.proxy}, keepalive_timeout: 75s }
control: { listen: 127.0.0.1:${ports.control}, token: ${TOKEN} }
state: { path: ${join(dir, `state-${shadow ? 'on' : 'off'}.json`)} }
pools:
  x: { nodes: [http://127.0.0.1:${ports.x}] }
  y: { nodes: [http://127.0.0.1:${ports.y}] }
split: { y: 0 }
log: { level: warn }
${shadow ? `shadow: { share: ${share}, max_concurrent: 32, timeout: 1s }\n` : ''}`,
  )
  const stalls = stallsFile === undefined ? [] : ['--import', join(ROOT, 'bench', 'own-stalls.mjs')]
  const child = startChild(
    process.execPath,
    [...cutoverNodeFlags(), ...NODE_ARGS, ...stalls, '-e', `import(${JSON.stringify(CLI)}).then((m) => m.main(['--config', ${JSON.stringify(config)}])).then((code) => process.exit(code))`],
    {
      core,
    },
  )
  if (!(await waitFor(async () => (await getStatus(ports.proxy)) === 200, { timeoutMs: 15_000, exited: child.exited }))) throw new Error(`cutover did not start: ${child.output()}`)
  return child
}

async function shadowTotals(port) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/shadow`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return (await res.json()).totals
}

/**
 * Shadowing off and on, interleaved, in one run. core: where cutover runs (the caller runs
 * the load on another core, and x and y go on loadCore); undefined: unpinned.
 */
export async function measureShadow({
  rate = 400,
  duration = 8,
  rounds = 2,
  yDelay = 2000,
  connections = 16,
  share = 100,
  warmup = 2,
  stalls = false,
  core,
  loadCore,
  log = (line) => process.stderr.write(`${line}\n`),
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-shadow-'))
  const ports = { x: await freePort(), y: await freePort(), proxy: await freePort(), control: await freePort() }
  const x = await startNode(ports.x, 0, loadCore)
  const y = await startNode(ports.y, yDelay, loadCore)
  const results = { off: [], on: [] }
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['off', 'on']) {
        const stallsFile = stalls ? join(dir, `stalls-${round}-${mode}.jsonl`) : undefined
        if (stallsFile !== undefined) {
          process.env.OWN_STALLS_FILE = stallsFile
          // from about the end of the start-up and the warm-up
          process.env.OWN_STALLS_DELAY_MS = String(warmup * 1000 + 1000)
        }
        const c = await startCutover(dir, ports, mode === 'on', share, core, stallsFile)
        const url = `http://127.0.0.1:${ports.proxy}/items`
        if (warmup > 0) await runPaced({ url, connections, rate, duration: warmup })
        const pids = processTree(c.pid)
        const cpu0 = cpuSeconds(pids)
        const t0 = performance.now()
        const r = await runPaced({ url, connections, rate, duration })
        const cpu1 = cpuSeconds(pids)
        const cpu = cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) / ((performance.now() - t0) / 1000)) * 100
        const totals = mode === 'on' ? await shadowTotals(ports.control) : null
        await c.stop()
        const own = stallsFile === undefined ? null : ownStalls(stallsFile)
        results[mode].push({
          p50: r.p50,
          p99: r.p99,
          responses: r.responses,
          non2xx: r.non2xx,
          errors: r.errors,
          cpu,
          totals,
          ownStalls: own?.stalls.length ?? null,
          ownStallMax: own?.stalls[0] ?? null,
        })
        log(
          `  round ${round + 1}/${rounds} shadow ${mode}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.responses} answers, ${r.non2xx} non-2xx, ${r.errors} errors, cutover cpu ${cpu === null ? '?' : cpu.toFixed(0)}%, load average ${loadavg()[0].toFixed(1)}${own ? `, own-work stalls ${own.stalls.length} (largest ${own.stalls[0] ?? 0} ms)` : ''}${totals ? `, shadow ${JSON.stringify(totals)}` : ''}`,
        )
      }
    }
  } finally {
    await Promise.all([x.stop(), y.stop()])
  }
  const median = (list, key) => list.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)]
  const p99off = median(results.off, 'p99')
  const p99on = median(results.on, 'p99')
  const ratio = p99on / p99off
  return {
    rate,
    duration,
    rounds,
    share,
    yDelay,
    pinned: core !== undefined,
    p99off,
    p99on,
    ratio,
    goal: SHADOW_GOAL,
    met: ratio <= SHADOW_GOAL,
    cpuOff: median(results.off, 'cpu'),
    cpuOn: median(results.on, 'cpu'),
    ownStallsOff: stalls ? median(results.off, 'ownStalls') : null,
    ownStallsOn: stalls ? median(results.on, 'ownStalls') : null,
    perRound: results,
  }
}

/** The own-stalls line of a stopped cutover (undefined when it wrote none). */
function ownStalls(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[0])
  } catch {
    return undefined
  }
}

/** The result as lines for a person. */
export function formatShadow(r) {
  const cpu = (v) => (v === null || v === undefined ? '?' : `${v.toFixed(0)}%`)
  return [
    `shadow (issue 13): x traffic at ${r.rate} req/s, shadow.share ${r.share}, y answering after ${r.yDelay} ms, ${r.rounds} interleaved round(s) of ${r.duration} s, ${r.pinned ? 'cutover pinned to core 1, load, x and y to core 0' : 'unpinned'}, load average ${loadavg()[0].toFixed(1)}:`,
    `  shadow off: p99 ${r.p99off.toFixed(2)} ms, cutover cpu ${cpu(r.cpuOff)}`,
    `  shadow on:  p99 ${r.p99on.toFixed(2)} ms, cutover cpu ${cpu(r.cpuOn)}`,
    `  p99 on/off: ${r.ratio.toFixed(3)} (goal <= ${r.goal}): ${r.met ? 'met' : 'NOT met'}`,
    ...(r.ownStallsOn === null || r.ownStallsOn === undefined ? [] : [`  cutover's own-work event-loop stalls (over 4 ms of its CPU), median of rounds: off ${r.ownStallsOff}, on ${r.ownStallsOn}`]),
  ]
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '400' },
      duration: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '2' },
      'y-delay': { type: 'string', default: '2000' },
      connections: { type: 'string', default: '16' },
      share: { type: 'string', default: '100' },
      warmup: { type: 'string', default: '2' },
      stalls: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const pinning = pinningPlan(cpus().length)
  if (pinning.enabled && !pinSelf(pinning.loadCore)) pinning.enabled = false
  const r = await measureShadow({
    rate: Number(values.rate),
    duration: Number(values.duration),
    rounds: Number(values.rounds),
    yDelay: Number(values['y-delay']),
    connections: Number(values.connections),
    share: Number(values.share),
    warmup: Number(values.warmup),
    stalls: values.stalls,
    core: pinning.enabled ? pinning.proxyCore : undefined,
    loadCore: pinning.enabled ? pinning.loadCore : undefined,
  })
  console.log(values.json ? JSON.stringify(r) : `\n${formatShadow(r).join('\n')}`)
}
