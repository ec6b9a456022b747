// `npm run bench`: the fixed upstream, cutover, nginx and HAProxy side by side. For each
// scenario every proxy is started fresh (pinned to core 1; the upstream and the load
// generators run on core 0), warmed up, then measured in interleaved rounds; one table
// and the goals of issue 5 are printed and the figures are written to bench/results/.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, pinningPlan, pinSelf, startChild } from './children.mjs'
import { cutover, cutoverState } from './cutover-proxy.mjs'
import { benchH2, formatH2 } from './h2.mjs'
import { runAutocannon, runWrk, sequentialLatency, wrkAvailable } from './load.mjs'
import { buildPacedC, runPaced, runPacedC } from './paced.mjs'
import { cpuSeconds, memory, processTree, sampleRss, socketCount } from './procstat.mjs'
import { haproxy, nginx } from './rivals.mjs'
import { formatShadow, measureShadow } from './shadow.mjs'
import { nginxUpstreamAvailable, startNginxUpstream } from './upstream.mjs'
import { poolPorts, portsNeeded, selectScenarios, STICKY_HEADER } from './scenarios.mjs'
import { addHopLatency, addRatios, aggregate, formatGoals, formatTable, goals } from './table.mjs'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const CONTESTANTS = [cutover, nginx, haproxy]

const USAGE = `usage: node bench/run.mjs [flags]   (npm run bench -- [flags])
  --quick            short runs, 1 round, the quick scenarios, autocannon only (< 60 s)
  --duration S       seconds per measured run (default 3, quick 1)
  --rounds N         interleaved rounds per scenario (default 2, quick 1)
  --only LIST        proxies to run, of cutover,nginx,haproxy (default all installed)
  --scenario LIST    scenarios, of small-get,get-64k,post-1m,sticky,nodes-100,rate-p99,hop-latency,conns-1000,shadow,
                     h2 (h2load: h2c GET and gRPC unary, many streams over 4 connections, against nginx http2 + grpc_pass)
                     (shadow: cutover alone, p99 with shadowing on / off, bench/shadow.mjs; in a full run, not in --quick)
  --tools LIST       closed-loop generators, of autocannon,wrk (default both; quick: autocannon)
  --upstream KIND    nginx (default where installed: its answers cost the shared load core little, so the
                     proxy under test saturates; uploads still go to bench/upstream.mjs, which reads a body
                     whole before it answers) or node (bench/upstream.mjs for every scenario)
  --help`

/** A bad flag: printed with the usage, without a stack. */
class UsageError extends Error {}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      scenario: { type: 'string' },
      tools: { type: 'string' },
      upstream: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  const list = (s) =>
    s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : null
  const quick = values.quick
  const duration = Number(values.duration ?? (quick ? 1 : 3))
  const rounds = Number(values.rounds ?? (quick ? 1 : 2))
  if (!(duration > 0) || !(Number.isInteger(rounds) && rounds > 0)) throw new UsageError('--duration needs a number of seconds above 0, --rounds a whole number above 0')
  const only = list(values.only)
  const unknown = (only ?? []).filter((n) => !CONTESTANTS.some((c) => c.name === n))
  if (unknown.length) throw new UsageError(`--only: unknown proxy ${unknown.join(', ')}`)
  const tools = list(values.tools) ?? (quick ? ['autocannon'] : ['autocannon', 'wrk'])
  const badTool = tools.filter((x) => x !== 'autocannon' && x !== 'wrk')
  if (badTool.length) throw new UsageError(`--tools: unknown ${badTool.join(', ')}; known: autocannon, wrk`)
  const upstream = values.upstream ?? (nginxUpstreamAvailable() ? 'nginx' : 'node')
  if (upstream !== 'nginx' && upstream !== 'node') throw new UsageError(`--upstream: unknown ${upstream}; known: nginx, node`)
  return { help: values.help, quick, duration, rounds, only, scenarios: list(values.scenario), tools, upstream, warmup: quick ? 0.5 : 1 }
}

const log = (line) => process.stderr.write(`${line}\n`)

/** What a closed-loop run of `scenario` sends to `port`. */
function loadSpec(scenario, port, duration, body) {
  const l = scenario.load
  const headers = l.headers ?? {}
  return {
    url: `http://127.0.0.1:${port}${l.path}`,
    connections: l.connections,
    duration,
    method: l.method ?? 'GET',
    body,
    bodyBytes: l.bodyBytes,
    headers,
    idReplacement: Object.values(headers).some((v) => v.includes('[<id>]')),
  }
}

/** Run `load()` against a target and measure the proxy process around it. */
async function measure(target, load) {
  if (!target.pid) return { ...(await load(() => {})), cpuUsPerReq: null, cpuPct: null, peakRssMiB: null, peakAnonMiB: null, peakFileMiB: null }
  const pids = processTree(target.pid)
  const cpu0 = cpuSeconds(pids)
  const rss = sampleRss(pids)
  let sockets = null
  const result = await load(() => {
    sockets = socketCount(pids)
  })
  const cpu1 = cpuSeconds(pids)
  const peak = rss.stop()
  const cpu = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0
  return {
    ...result,
    sockets,
    cpuUsPerReq: cpu === null || result.responses === 0 ? null : (cpu / result.responses) * 1e6,
    cpuPct: cpu === null ? null : (cpu / result.seconds) * 100,
    peakRssMiB: peak === null ? null : peak.rssKiB / 1024,
    // the largest sample's parts: the process's own memory, and the pages of node's binary and libraries it touched
    peakAnonMiB: peak?.anonKiB == null ? null : peak.anonKiB / 1024,
    peakFileMiB: peak?.fileKiB == null ? null : peak.fileKiB / 1024,
  }
}

function describe(r) {
  const rps = Math.round(r.rps).toLocaleString('en-US')
  const cpu = r.cpuUsPerReq === null ? '' : `, ${r.cpuUsPerReq.toFixed(1)} us cpu/req`
  const err = r.errors || r.non2xx ? `, ${r.errors} errors, ${r.non2xx} non-2xx` : ''
  const rss = r.peakRssMiB == null ? '' : `, peak RSS ${r.peakRssMiB.toFixed(1)} MiB${r.peakAnonMiB == null ? '' : ` (own ${r.peakAnonMiB.toFixed(1)})`}`
  return `${rps} req/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms${cpu}${rss}${err}`
}

async function main() {
  const opts = options(process.argv.slice(2))
  if (opts.help) {
    console.log(USAGE)
    return 0
  }
  const started = new Date()
  // shadow is cutover against itself (shadowing on and off), not a row of the rivals' table;
  // h2 is run by bench/h2.mjs (h2load, not autocannon/wrk), after the HTTP/1.1 scenarios
  const wantShadow = opts.scenarios ? opts.scenarios.includes('shadow') : !opts.quick
  const wantH2 = opts.scenarios === null || opts.scenarios.includes('h2')
  const names = opts.scenarios?.filter((n) => n !== 'shadow' && n !== 'h2')
  let scenarios
  try {
    scenarios = names?.length === 0 ? [] : selectScenarios({ names, quick: opts.quick })
  } catch (err) {
    throw new UsageError(err.message)
  }
  // counted before pinning: once pinned, availableParallelism() answers 1
  const cpuCount = cpus().length
  const pinning = pinningPlan(cpuCount)
  const core = (which) => (pinning.enabled ? pinning[which] : undefined)
  if (pinning.enabled && !pinSelf(pinning.loadCore)) log('bench: could not pin the load generator to core 0; continuing unpinned')
  log(
    pinning.enabled
      ? `bench: pinned: proxy under test on core ${pinning.proxyCore}; upstream, autocannon and wrk on core ${pinning.loadCore}`
      : `bench: not pinned (${pinning.reason}); figures are rougher`,
  )
  if (loadavg()[0] > cpuCount) log(`bench: warning: load average ${loadavg()[0].toFixed(1)} on ${cpuCount} cores; other work will blur the figures`)

  const skipped = []
  const contestants = []
  for (const c of CONTESTANTS) {
    if (opts.only && !opts.only.includes(c.name)) continue
    if (!c.available()) {
      const line = `${c.name}: not installed, skipped (install: ${c.install})`
      log(`bench: ${line}`)
      skipped.push(line)
      continue
    }
    contestants.push(c)
  }
  const tools = opts.tools.filter((t) => {
    if (t === 'wrk' && !wrkAvailable()) {
      const line = 'wrk: not installed, its rows skipped (install: apt-get install wrk)'
      log(`bench: ${line}`)
      skipped.push(line)
      return false
    }
    return true
  })

  const tmp = mkdtempSync(join(tmpdir(), 'cutover-bench-'))
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))
  // the paced rows' client: bench/paced.c where it builds (the JavaScript one adds its own lag)
  const pacedC = scenarios.some((s) => s.kind === 'rate' || s.kind === 'conns') ? buildPacedC(join(tmp, 'paced-c')) : { binary: null, reason: null }
  if (pacedC.binary) log(`bench: the paced rows' client is bench/paced.c (core ${pinning.enabled ? pinning.loadCore : 'any'})`)
  else if (pacedC.reason) log(`bench: the paced rows' client is bench/paced.mjs (JavaScript, adds its own lag): ${pacedC.reason}`)
  const paced = (args) => (pacedC.binary ? runPacedC(pacedC.binary, { ...args, core: core('loadCore') }) : runPaced(args))
  // the node:http upstream: every scenario's with --upstream node, else the uploads' only.
  // nginx's `return` answers a POST before it has read the body, and nginx as the proxy
  // then fails those uploads; the node upstream reads the whole body first
  const wantsNode = opts.upstream === 'node' ? scenarios : scenarios.filter((s) => s.load.bodyBytes)
  let nodePorts
  const nodeUpstream =
    wantsNode.length === 0
      ? null
      : startChild(process.execPath, [join(HERE, 'upstream.mjs'), '--ports', String(portsNeeded(wantsNode))], {
          core: core('loadCore'),
          onStdout: (chunk) => {
            const m = /\{"ports":\[[\d,]*\]\}/.exec(chunk)
            if (m) nodePorts = JSON.parse(m[0]).ports
          },
        })
  for (let i = 0; i < 100 && nodeUpstream && !nodePorts; i++) await new Promise((r) => setTimeout(r, 100))
  if (nodeUpstream && !nodePorts) throw new Error(`the upstream did not start: ${nodeUpstream.output()}`)
  const wantsNginx = opts.upstream === 'nginx' ? scenarios.filter((s) => !s.load.bodyBytes) : []
  const upstream = wantsNginx.length === 0 ? null : await startNginxUpstream(join(tmp, 'upstream'), portsNeeded(wantsNginx), { core: core('loadCore') })
  if (upstream)
    log(
      `bench: the upstream is nginx ${nginx.version()} (one worker, core ${pinning.enabled ? pinning.loadCore : 'any'})${nodeUpstream ? '; uploads go to bench/upstream.mjs (node:http), which reads a body whole before it answers' : ''}`,
    )
  else if (nodeUpstream) log('bench: the upstream is bench/upstream.mjs (node:http)')
  const upstreamPortsFor = (scenario) => (upstream && !scenario.load.bodyBytes ? upstream.ports : nodePorts)

  const rows = []
  const broken = new Set()
  let rate = null
  for (const scenario of scenarios) {
    log(`\n${scenario.name}: ${scenario.what}`)
    const pools = poolPorts(scenario, upstreamPortsFor(scenario))
    const body = scenario.load.bodyBytes ? Buffer.alloc(scenario.load.bodyBytes, 'x') : undefined
    const targets = []
    for (const c of contestants) {
      if (broken.has(c.name)) continue
      const route = { port: await freePort(), controlPort: await freePort(), ...pools, sticky: scenario.sticky ? STICKY_HEADER : null }
      try {
        const handle = await c.start(join(tmp, scenario.name, c.name), route, { core: core('proxyCore') })
        targets.push({ name: c.name, pid: handle.pid, port: route.port, controlPort: route.controlPort, handle })
      } catch (err) {
        const line = `${c.name}: failed to start in ${scenario.name}, skipped for the rest of the run: ${err.message}`
        log(`bench: ${line}`)
        skipped.push(line)
        broken.add(c.name)
      }
    }
    if (scenario.kind === 'hop') targets.push({ name: 'direct', pid: null, port: pools.x[0] })
    if (targets.length === 0) continue

    for (const t of targets) if (t.pid) await runAutocannon(loadSpec(scenario, t.port, opts.warmup, body))

    // the rate of rate-p99: half of nginx's small-get peak in this run, else calibrated now.
    // The peak is wrk's where wrk ran: autocannon, one JavaScript process, saturates before
    // nginx does (nginx at 60-70% of its core), so half of its figure is not half of nginx's peak
    if (scenario.kind === 'rate' && rate === null) {
      const peakOf = (tool) => rows.find((r) => r.scenario === 'small-get' && r.proxy === 'nginx' && r.tool === tool)
      const peak = peakOf('wrk') ?? peakOf('autocannon')
      if (peak) {
        rate = { perSecond: Math.round(peak.rps / 2), from: `half of nginx small-get (${peak.tool}) peak` }
      } else {
        const ref = targets.find((t) => t.name === 'nginx') ?? targets[0]
        const spec = loadSpec(scenario, ref.port, 2, undefined)
        const tool = tools.includes('wrk') ? 'wrk' : 'autocannon'
        const r = tool === 'wrk' ? await runWrk({ ...spec, connections: 100 }, { core: core('loadCore'), dir: tmp }) : await runAutocannon(spec)
        rate = { perSecond: Math.round(r.rps / 2), from: `half of a 2 s calibration run (${tool}, 100 connections) against ${ref.name}` }
      }
      log(`  rate: ${rate.perSecond} req/s (${rate.from})`)
    }

    const runs = (t) => {
      const spec = loadSpec(scenario, t.port, opts.duration, body)
      if (scenario.kind === 'throughput') {
        return tools.map((tool) => [
          tool,
          (during) =>
            (tool === 'wrk' ? runWrk(spec, { core: core('loadCore'), dir: tmp }) : runAutocannon(spec)).then((r) => {
              during()
              return r
            }),
        ])
      }
      if (scenario.kind === 'rate') return [['paced', (during) => paced({ url: spec.url, connections: spec.connections, rate: rate.perSecond, duration: opts.duration, during })]]
      if (scenario.kind === 'conns')
        return [['paced', (during) => paced({ url: spec.url, connections: scenario.load.connections, rate: scenario.load.rate, duration: Math.max(opts.duration, 2), during })]]
      const requests = opts.quick ? 1000 : 2000
      // warmup 1: only to open the connection, since the CPU window counts what the client sends
      const hop = [['node-seq', () => sequentialLatency(spec.url, { requests, warmup: 1, deadlineMs: Math.max(5, opts.duration * 3) * 1000 })]]
      if (tools.includes('wrk')) hop.push(['wrk', () => runWrk({ ...spec, connections: 1 }, { core: core('loadCore'), dir: tmp })])
      return hop
    }

    const rounds = new Map()
    const roundCount = opts.quick ? opts.rounds : Math.max(opts.rounds, scenario.minRounds ?? 1)
    if (roundCount > opts.rounds) log(`  ${roundCount} rounds: the fewest this scenario's figure holds with`)
    for (let round = 0; round < roundCount; round++) {
      // interleaved: every proxy once per round, the order rotating from round to round
      const order = targets.map((_, i) => targets[(i + round) % targets.length])
      for (const t of order) {
        for (const [tool, load] of runs(t)) {
          const r = await measure(t, load)
          log(`  ${t.name.padEnd(8)} ${tool.padEnd(10)} round ${round + 1}/${roundCount}: ${describe(r)}`)
          const key = `${t.name}\t${tool}`
          if (!rounds.has(key)) rounds.set(key, [])
          rounds.get(key).push(r)
        }
      }
    }

    for (const t of targets) {
      const hwm = t.pid ? memory(processTree(t.pid)).hwmKiB : null
      const notes = []
      if (t.name === 'cutover') {
        const state = await cutoverState(t.controlPort)
        if (!state) notes.push('state unreadable')
        else if (state.locked) notes.push(`ROLLED BACK: ${state.lock_reason}`)
        else if (state.split?.y !== 10) notes.push(`split y ${state.split?.y}`)
      }
      for (const tool of [...new Set([...rounds.keys()].filter((k) => k.startsWith(`${t.name}\t`)).map((k) => k.split('\t')[1]))]) {
        const rs = rounds.get(`${t.name}\t${tool}`)
        const extra = []
        if (scenario.kind === 'conns') {
          const last = rs[rs.length - 1]
          extra.push(`${last.opened} conns open, proxy held ${last.sockets ?? '?'} sockets`)
        }
        if (scenario.kind === 'rate') extra.push(`${rate.perSecond} req/s asked`)
        if (roundCount !== opts.rounds) extra.push(`median of ${roundCount} rounds`)
        if (rs.some((r) => r.late)) extra.push(`${rs.reduce((a, r) => a + (r.late ?? 0), 0)} ticks with every connection busy`)
        if (rs.some((r) => r.lateRequests)) extra.push(`${rs.reduce((a, r) => a + (r.lateRequests ?? 0), 0)} requests sent over 1 ms late`)
        const perRound = rs.map(({ responses, seconds, rps, p50, p99, errors, non2xx, cpuUsPerReq, cpuPct, peakRssMiB, peakAnonMiB, peakFileMiB }) => ({
          responses,
          seconds,
          rps,
          p50,
          p99,
          errors,
          non2xx,
          cpuUsPerReq,
          cpuPct,
          peakRssMiB,
          peakAnonMiB,
          peakFileMiB,
        }))
        const row = aggregate(scenario.name, t.name, tool, rs, { perRound })
        const parts = scenario.kind === 'conns' ? row.rssParts : null
        if (parts) extra.push(`largest sample ${parts.rssMiB.toFixed(1)} MiB: own ${parts.ownMiB.toFixed(1)} + file-backed ${parts.fileMiB.toFixed(1)}`)
        row.note = [...notes, ...extra].join('; ') || undefined
        if (hwm !== null) row.peakRssMiB = Math.max(row.peakRssMiB ?? 0, hwm / 1024)
        rows.push(row)
      }
    }
    await Promise.all(targets.map((t) => t.handle?.stop()))
  }

  let shadow = null
  if (wantShadow) {
    log('\nshadow: p99 of x traffic through cutover with shadowing on (a slow y) against off, interleaved')
    shadow = await measureShadow({ duration: opts.duration, rounds: opts.rounds, warmup: opts.warmup, core: core('proxyCore'), loadCore: core('loadCore'), log })
  }
  let h2 = null
  if (wantH2) {
    log('\nh2: h2load, h2c GET and gRPC unary, many streams over few connections, cutover against nginx (http2 + grpc_pass)')
    const h2Names = (opts.only ?? ['cutover', 'nginx']).filter((n) => n === 'cutover' || n === 'nginx')
    h2 = await benchH2({ duration: opts.duration, clients: 4, streams: 32, only: h2Names, proxyCore: core('proxyCore'), loadCore: core('loadCore'), log })
    for (const line of h2.skipped) {
      log(`bench: ${line}`)
      skipped.push(line)
    }
  }

  addHopLatency(rows)
  addRatios(rows)
  const goalList = goals(rows)
  // only shadow or h2 asked: no rivals' table
  const lines =
    rows.length === 0
      ? []
      : [
          '',
          `cutover bench, ${started.toISOString()}: ${opts.rounds} round(s) of ${opts.duration} s, ${pinning.enabled ? 'proxy pinned to core 1, load and upstream to core 0' : 'unpinned'}; (Nx) = ratio to nginx`,
          ...formatTable(rows),
          '',
          'goals (issues 5 and 10), cutover against one nginx worker:',
          ...formatGoals(goalList),
        ]
  if (shadow) lines.push('', ...formatShadow(shadow))
  if (h2?.rows.length) lines.push('', ...formatH2(h2.rows, h2.load))
  if (skipped.length) lines.push('', 'skipped:', ...skipped.map((s) => `  ${s.split('\n')[0]}`))
  console.log(lines.join('\n'))

  const dir = join(HERE, 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${started.toISOString().replaceAll(':', '-')}.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        started: started.toISOString(),
        finished: new Date().toISOString(),
        host: {
          cpus: cpuCount,
          loadavg: loadavg(),
          node: process.version,
          nginx: contestants.includes(nginx) ? nginx.version() : null,
          haproxy: contestants.includes(haproxy) ? haproxy.version() : null,
        },
        options: opts,
        pinning,
        rate,
        skipped,
        rows,
        h2: h2?.rows.length ? { load: h2.load, rows: h2.rows } : null,
        goals: goalList,
        shadow,
      },
      null,
      2,
    ),
  )
  console.log(`\nfigures written to ${file}`)
  await Promise.all([upstream?.stop(), nodeUpstream?.stop()])
  return 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(err instanceof UsageError || err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `bench: ${err.message}\n${USAGE}` : `bench: ${err.stack ?? err}`)
    process.exit(1)
  },
)
