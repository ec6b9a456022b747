// Does shadowing slow the client? The same paced GET load through cutover (y at 0, every
// request answered by x) with shadowing off and on (--share, default 100, to a y that
// answers after --y-delay ms, a cap of 32 copies and a 1 s time limit: with a slow y most
// copies are dropped at the cap or the limit), interleaved rounds; prints p50/p99 of x traffic for each, the
// ratio, cutover's CPU% and the shadow totals. Build first (`npm run build`), or point
// CUTOVER_CLI at a compiled cli.js.
//   node bench/shadow.mjs [--rate 400] [--duration 8] [--rounds 2] [--y-delay 2000] [--share 100]
import { mkdtempSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, getStatus, startChild, waitFor } from './children.mjs'
import { runPaced } from './paced.mjs'
import { cpuSeconds } from './procstat.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = process.env.CUTOVER_CLI ?? join(ROOT, 'dist', 'cli.js')
const TOKEN = 'bench-token-0123456789'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '400' },
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    'y-delay': { type: 'string', default: '2000' },
    connections: { type: 'string', default: '16' },
    share: { type: 'string', default: '100' },
  },
})
const rate = Number(values.rate)
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const yDelay = Number(values['y-delay'])
const connections = Number(values.connections)
const share = Number(values.share)

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

async function startNode(port, delay) {
  const child = startChild(process.execPath, ['-e', NODE, String(port), String(delay)])
  if (!(await waitFor(async () => (delay > 0 ? true : (await getStatus(port)) === 200), { timeoutMs: 10_000, exited: child.exited })))
    throw new Error(`node on ${port} did not start: ${child.output()}`)
  return child
}

async function startCutover(dir, ports, shadow) {
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
  const child = startChild(process.execPath, ['-e', `import(${JSON.stringify(CLI)}).then((m) => m.main(['--config', ${JSON.stringify(config)}])).then((code) => process.exit(code))`])
  if (!(await waitFor(async () => (await getStatus(ports.proxy)) === 200, { timeoutMs: 15_000, exited: child.exited }))) throw new Error(`cutover did not start: ${child.output()}`)
  return child
}

async function shadowTotals(port) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/shadow`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return (await res.json()).totals
}

const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-shadow-'))
const ports = { x: await freePort(), y: await freePort(), proxy: await freePort(), control: await freePort() }
const x = await startNode(ports.x, 0)
const y = await startNode(ports.y, yDelay)
const results = { off: [], on: [] }
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['off', 'on']) {
      const c = await startCutover(dir, ports, mode === 'on')
      // warm-up, then the measured run
      await runPaced({ url: `http://127.0.0.1:${ports.proxy}/items`, connections, rate, duration: 2 })
      const cpu0 = cpuSeconds([c.pid])
      const t0 = performance.now()
      const r = await runPaced({ url: `http://127.0.0.1:${ports.proxy}/items`, connections, rate, duration })
      const cpu = ((cpuSeconds([c.pid]) - cpu0) / ((performance.now() - t0) / 1000)) * 100
      const totals = mode === 'on' ? await shadowTotals(ports.control) : null
      results[mode].push({ ...r, cpu, totals })
      process.stdout.write(
        `round ${round + 1} shadow ${mode}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.responses} answers, ${r.non2xx} non-2xx, ${r.errors} errors, cutover cpu ${cpu.toFixed(0)}%${totals ? `, shadow ${JSON.stringify(totals)}` : ''}\n`,
      )
      await c.stop()
    }
  }
} finally {
  await Promise.all([x.stop(), y.stop()])
}
const worst = (list, key) => Math.max(...list.map((r) => r[key]))
const median = (list, key) => list.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)]
const p99off = median(results.off, 'p99')
const p99on = median(results.on, 'p99')
process.stdout.write(
  `\nx traffic at ${rate} req/s, shadow.share ${share}, y answering after ${yDelay} ms, load average ${loadavg()[0].toFixed(1)}:\n  shadow off: p99 ${p99off.toFixed(2)} ms (worst ${worst(results.off, 'p99').toFixed(2)})\n  shadow on:  p99 ${p99on.toFixed(2)} ms (worst ${worst(results.on, 'p99').toFixed(2)})\n  ratio on/off: ${(p99on / p99off).toFixed(2)} (goal <= 1.1)\n`,
)
