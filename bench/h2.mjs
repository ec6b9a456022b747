// HTTP/2 and gRPC through cutover and nginx (issue 12): h2load opens few connections with many
// streams each, in plain text with prior knowledge, against cutover's proxy.h2c_listen (to an
// h2c node) and nginx's `listen ... http2` with grpc_pass (to the same node). Two scenarios:
// GET (100 bytes) and a gRPC unary call (POST application/grpc, grpc-status in trailers).
// Prints req/s, mean latency, failures and the proxy's CPU, with cutover's ratio to nginx.
//
//   node bench/h2.mjs [--dist DIR] [--duration 5] [--clients 4] [--streams 32] [--only cutover,nginx]
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, hasCommand, startChild, waitFor } from './children.mjs'
import { cpuSeconds, processTree } from './procstat.mjs'
import http2 from 'node:http2'

const { values: args } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '4' },
    streams: { type: 'string', default: '32' },
    only: { type: 'string', default: 'cutover,nginx' },
  },
})
const duration = Number(args.duration)
const only = new Set(args.only.split(','))
const dir = mkdtempSync(join(tmpdir(), 'cutover-h2-bench-'))
const log = (line) => process.stderr.write(`${line}\n`)

for (const tool of ['h2load']) {
  if (!hasCommand(tool)) {
    log(`${tool}: not installed (apt-get install nghttp2-client); nothing to measure`)
    process.exit(0)
  }
}

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

const upPort = await freePort()
const upstream = startChild(process.execPath, [new URL('./h2-upstream.mjs', import.meta.url).pathname, String(upPort)])
if (!(await waitFor(() => h2Up(upPort), { timeoutMs: 10_000, exited: upstream.exited }))) throw new Error(`upstream did not start: ${upstream.output()}`)

const proxies = []
if (only.has('cutover')) {
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
  const cli = resolve(args.dist, 'cli.js')
  const child = startChild(process.execPath, [
    '--input-type=module',
    '-e',
    `const { main } = await import(${JSON.stringify(cli)}); main(['--config', ${JSON.stringify(config)}]).then((c) => process.exit(c))`,
  ])
  proxies.push({ name: 'cutover', port, child })
}
if (only.has('nginx') && hasCommand('nginx')) {
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `worker_processes 1;
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
`,
  )
  proxies.push({ name: 'nginx', port, child: startChild('nginx', ['-c', conf, '-p', dir]) })
}

const body = join(dir, 'grpc-request.bin')
writeFileSync(body, Buffer.concat([Buffer.from([0, 0, 0, 0, 10]), Buffer.alloc(10, 0x63)]))
const SCENARIOS = {
  'h2 GET': (port) => [`http://127.0.0.1:${port}/`],
  'gRPC unary': (port) => ['-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}/bench.Echo/Unary`],
}

/** One h2load run: req/s, mean ms, failed, and the proxy's CPU % over the run. */
async function measure(proxy, scenario) {
  const pids = processTree(proxy.child.pid)
  const cpu0 = cpuSeconds(pids)
  const t0 = performance.now()
  let out = ''
  const load = startChild('h2load', ['-D', String(duration), '-c', args.clients, '-m', args.streams, '-t', '1', ...SCENARIOS[scenario](proxy.port)], { onStdout: (d) => (out += d) })
  await load.exited
  const seconds = (performance.now() - t0) / 1000
  const cpu = cpuSeconds(pids)
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN)
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out)
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? '?'
  const status = /status codes: (\d+) 2xx/.exec(out)?.[1]
  return { rps, mean, failed: done ? Number(done[4]) : Number.NaN, ok2xx: Number(status ?? Number.NaN), cpu: cpu0 === null || cpu === null ? null : ((cpu - cpu0) / seconds) * 100 }
}

const rows = []
try {
  for (const p of proxies) {
    if (!(await waitFor(() => h2Up(p.port), { timeoutMs: 10_000, exited: p.child.exited }))) {
      log(`${p.name}: did not answer on ${p.port}, skipped\n${p.child.output()}`)
      p.skip = true
    }
  }
  for (const scenario of Object.keys(SCENARIOS)) {
    for (const p of proxies) {
      if (p.skip) continue
      log(`${scenario}: ${p.name} ...`)
      rows.push({ scenario, proxy: p.name, ...(await measure(p, scenario)) })
    }
  }
} finally {
  for (const p of proxies) await p.child.stop()
  await upstream.stop()
}

console.log(`h2load -D ${duration} -c ${args.clients} -m ${args.streams} (${args.clients} connections x ${args.streams} streams), h2c`)
console.log('| scenario | proxy | req/s | vs nginx | mean latency | failed | proxy CPU |')
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  const rival = rows.find((x) => x.scenario === r.scenario && x.proxy === 'nginx')
  const ratio = rival && r.proxy !== 'nginx' ? `${(r.rps / rival.rps).toFixed(2)}x` : ''
  console.log(`| ${r.scenario} | ${r.proxy} | ${Math.round(r.rps)} | ${ratio} | ${r.mean} | ${r.failed} | ${r.cpu === null ? '?' : `${Math.round(r.cpu)}%`} |`)
}
