// HTTP/2 and gRPC through cutover and nginx (issue 12): h2load opens few connections with many
// streams each, in plain text with prior knowledge, against cutover's proxy.h2c_listen (to an
// h2c node) and nginx's `listen ... http2` with grpc_pass (to the same node). Two scenarios:
// GET (100 bytes) and a gRPC unary call (POST application/grpc, grpc-status in trailers).
// Prints req/s, mean latency, failures and the proxy's CPU, with cutover's ratio to nginx.
//
//   node bench/h2.mjs [--dist DIR] [--duration 5] [--clients 4] [--streams 32] [--only cutover,nginx]
// `npm run bench` runs it as its h2 scenario (benchH2), pinned like the others.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, hasCommand, startChild, waitFor } from './children.mjs'
import { cpuSeconds, processTree } from './procstat.mjs'
import http2 from 'node:http2'

/** true once an h2c GET on port answers. */
function h2Up(port) {
  return new Promise((resolveUp) => {
    const s = http2.connect(`http://127.0.0.1:${port}`)
    s.on('error', () => resolveUp(false))
    const req = s.request({ ':path': '/' })
    req.on('response', () => {
      s.close()
      resolveUp(true)
    })
    req.on('error', () => resolveUp(false))
    req.end()
  })
}

function nginxConf(dir, port, upPort) {
  return `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  upstream h2node { server 127.0.0.1:${upPort}; keepalive 32; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${port} http2;
    http2_max_concurrent_streams 128;
    # h2load does not reconnect: nginx must not close a connection after 1000 requests
    keepalive_requests 10000000;
    location / { grpc_pass grpc://h2node; }
  }
}
`
}

/**
 * The h2 scenarios: h2load (few connections, many streams each) against cutover and nginx
 * (http2 + grpc_pass) in one run. proxyCore/loadCore pin the proxies and the upstream and
 * h2load (as npm run bench does); absent, unpinned. Resolves with one row per scenario and
 * proxy, and the lines saying what was skipped and why.
 */
export async function benchH2({ dist = 'dist', duration = 5, clients = 4, streams = 32, only = ['cutover', 'nginx'], proxyCore, loadCore, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const skipped = []
  if (!hasCommand('h2load')) {
    skipped.push('h2: h2load not installed (apt-get install nghttp2-client); the h2 scenarios are skipped')
    return { rows: [], skipped }
  }
  const dir = mkdtempSync(join(tmpdir(), 'cutover-h2-bench-'))
  const upPort = await freePort()
  const upstream = startChild(process.execPath, [new URL('./h2-upstream.mjs', import.meta.url).pathname, String(upPort)], { core: loadCore })
  if (!(await waitFor(() => h2Up(upPort), { timeoutMs: 10_000, exited: upstream.exited }))) {
    await upstream.stop()
    throw new Error(`h2 upstream did not start: ${upstream.output()}`)
  }

  const proxies = []
  if (only.includes('cutover')) {
    const port = await freePort()
    const config = join(dir, 'cutover.yaml')
    writeFileSync(
      config,
      `proxy: { listen: 127.0.0.1:${await freePort()}, h2c_listen: 127.0.0.1:${port}, workers: 1, keepalive_timeout: 75s }
control: { listen: 127.0.0.1:${await freePort()}, token: bench-token-0123456789 }
state: { path: ${join(dir, 'state.json')} }
pools:
  x: { nodes: [{ url: http://127.0.0.1:${upPort}, h2: "h2c://127.0.0.1:${upPort}" }] }
  y: { nodes: [] }
log: { level: warn }
`,
    )
    const cli = resolve(dist, 'cli.js')
    const child = startChild(
      process.execPath,
      ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(cli)}); main(['--config', ${JSON.stringify(config)}]).then((c) => process.exit(c))`],
      { core: proxyCore },
    )
    proxies.push({ name: 'cutover', port, child })
  }
  if (only.includes('nginx')) {
    if (hasCommand('nginx')) {
      const port = await freePort()
      const conf = join(dir, 'nginx.conf')
      writeFileSync(conf, nginxConf(dir, port, upPort))
      proxies.push({ name: 'nginx', port, child: startChild('nginx', ['-c', conf, '-p', dir], { core: proxyCore }) })
    } else {
      skipped.push('h2: nginx not installed (apt-get install nginx); cutover measured without its rival, no ratio')
    }
  }

  const body = join(dir, 'grpc-request.bin')
  writeFileSync(body, Buffer.concat([Buffer.from([0, 0, 0, 0, 10]), Buffer.alloc(10, 0x63)]))
  const scenarios = {
    'h2 GET': (port) => [`http://127.0.0.1:${port}/`],
    'gRPC unary': (port) => ['-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}/bench.Echo/Unary`],
  }

  /** One h2load run: req/s, mean ms, failed, and the proxy's CPU % over the run. */
  async function measure(proxy, scenario) {
    const pids = processTree(proxy.child.pid)
    const cpu0 = cpuSeconds(pids)
    const t0 = performance.now()
    let out = ''
    const load = startChild('h2load', ['-D', String(duration), '-c', String(clients), '-m', String(streams), '-t', '1', ...scenarios[scenario](proxy.port)], {
      core: loadCore,
      onStdout: (d) => (out += d),
    })
    await load.exited
    const seconds = (performance.now() - t0) / 1000
    const cpu = cpuSeconds(pids)
    const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN)
    const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out)
    const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? '?'
    const status = /status codes: (\d+) 2xx/.exec(out)?.[1]
    return { rps, mean, failed: done ? Number(done[4]) : Number.NaN, ok2xx: Number(status ?? Number.NaN), cpuPct: cpu0 === null || cpu === null ? null : ((cpu - cpu0) / seconds) * 100 }
  }

  const rows = []
  try {
    for (const p of proxies) {
      if (!(await waitFor(() => h2Up(p.port), { timeoutMs: 10_000, exited: p.child.exited }))) {
        skipped.push(`h2: ${p.name} did not answer on port ${p.port}, skipped: ${p.child.output().split('\n')[0]}`)
        p.skip = true
      }
    }
    for (const scenario of Object.keys(scenarios)) {
      for (const p of proxies) {
        if (p.skip) continue
        log(`  ${scenario}: ${p.name} ...`)
        rows.push({ scenario, proxy: p.name, ...(await measure(p, scenario)) })
      }
    }
  } finally {
    for (const p of proxies) await p.child.stop()
    await upstream.stop()
  }
  return { rows, skipped, load: { duration, clients, streams } }
}

/** The h2 rows as a Markdown table, cutover's req/s as a ratio to nginx's of the same run. */
export function formatH2(rows, { duration, clients, streams }) {
  const lines = [
    `h2load -D ${duration} -c ${clients} -m ${streams} (${clients} connections x ${streams} streams), h2c`,
    '| scenario | proxy | req/s | vs nginx | mean latency | failed | proxy CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of rows) {
    const rival = rows.find((x) => x.scenario === r.scenario && x.proxy === 'nginx')
    const ratio = rival && r.proxy !== 'nginx' ? `${(r.rps / rival.rps).toFixed(2)}x` : ''
    lines.push(`| ${r.scenario} | ${r.proxy} | ${Math.round(r.rps)} | ${ratio} | ${r.mean} | ${r.failed} | ${r.cpuPct === null ? '?' : `${Math.round(r.cpuPct)}%`} |`)
  }
  return lines
}

// run on its own: node bench/h2.mjs [flags]
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      dist: { type: 'string', default: 'dist' },
      duration: { type: 'string', default: '5' },
      clients: { type: 'string', default: '4' },
      streams: { type: 'string', default: '32' },
      only: { type: 'string', default: 'cutover,nginx' },
    },
  })
  const result = await benchH2({ dist: args.dist, duration: Number(args.duration), clients: Number(args.clients), streams: Number(args.streams), only: args.only.split(',') })
  for (const line of result.skipped) process.stderr.write(`${line}\n`)
  if (result.rows.length) console.log(formatH2(result.rows, result.load).join('\n'))
}
