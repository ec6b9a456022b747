// How fast cutover notices a node going down and coming back (issue 3's figures): under a
// paced load of GETs, each chosen node in turn is taken down (listener closed, every
// connection cut), then brought back on the same port. Measured: client-visible errors,
// time until the node is ejected (passive) and marked unhealthy (probes), and time from
// its return until it is healthy again and serves traffic. cutover runs in this process
// from ../dist (build with `npx tsc -p .`); everything listens on 127.0.0.1 only.
//
//   node bench/failover-time.mjs [--profile fast|example|both] [--rate 500] [--nodes x1,y1]
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { pacedGets, sleep, startInProcess, textTable, until } from './in-process.mjs'

const PROBE_PATH = '/status/ready'
const BODY = Buffer.alloc(100, 'a')

/** Health settings: the fast one of the e2e test, and config/cutover.yaml's. */
export const PROFILES = {
  fast: { interval: 200, timeout: 200, healthy_threshold: 2, unhealthy_threshold: 2, max_failures: 3, eject_for: '30s' },
  example: { interval: 5000, timeout: 1000, healthy_threshold: 2, unhealthy_threshold: 2, max_failures: 5, eject_for: '30s' },
}

/** A node that can go down and come back on the same port; notes its first request after each return. */
async function nodeServer(name) {
  const node = { name, port: 0, server: null, upAt: 0, firstServedAt: 0 }
  const onRequest = (req, res) => {
    if (req.url !== PROBE_PATH && node.firstServedAt === 0) node.firstServedAt = performance.now()
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100', 'x-upstream': name })
    res.end(BODY)
  }
  node.up = async () => {
    const s = createServer(onRequest)
    await new Promise((resolve, reject) => s.once('error', reject).listen(node.port, '127.0.0.1', resolve))
    node.server = s
    node.port = s.address().port
    node.upAt = performance.now()
    node.firstServedAt = 0
  }
  node.down = () =>
    new Promise((resolve) => {
      const s = node.server
      if (!s) return resolve()
      node.server = null
      s.close(() => resolve())
      s.closeAllConnections()
    })
  await node.up()
  return node
}

/** The paced load, with each client-visible error and its time, so each phase counts its own. */
function pacedLoad(origin, rate) {
  const errors = []
  const load = pacedGets(origin, rate, 64, (status, err, at) => {
    if (err) errors.push({ at, what: err.code ?? err.message })
    else if (status < 200 || status >= 300) errors.push({ at, what: `status ${status}` })
  })
  load.errors = errors
  return load
}

function yaml(profile, nodes) {
  const urls = (pool) =>
    nodes
      .filter((n) => n.name[0] === pool)
      .map((n) => `http://127.0.0.1:${n.port}`)
      .join(', ')
  return `pools:
  x: { nodes: [${urls('x')}] }
  y: { nodes: [${urls('y')}] }
split: { y: 50 }
health:
  active: { path: ${PROBE_PATH}, interval: ${profile.interval}ms, timeout: ${profile.timeout}ms, healthy_threshold: ${profile.healthy_threshold}, unhealthy_threshold: ${profile.unhealthy_threshold} }
  passive: { max_failures: ${profile.max_failures}, eject_for: ${profile.eject_for} }
log: { level: silent }
# failed attempts count as y errors: keep the gates from rolling y back mid-measurement
gates: { min_requests: 1000000 }
`
}

/** One profile: every chosen node down and back in turn, under load. Returns a row per node. */
export async function measureProfile(name, { rate, pick }) {
  const profile = PROFILES[name]
  const nodes = await Promise.all(['x1', 'x2', 'y1', 'y2'].map(nodeServer))
  const { cutover, origin } = await startInProcess('failover', yaml(profile, nodes))
  const seen = []
  cutover.events.subscribe((e) => seen.push({ at: performance.now(), type: e.type, node: e.node }))
  const allHealthy = () => nodes.every((n) => seen.some((e) => e.type === 'node.healthy' && e.node === `127.0.0.1:${n.port}`))
  await until(allHealthy, profile.interval * (profile.healthy_threshold + 2) + 2000)
  const load = pacedLoad(origin, rate)
  await sleep(500)
  const rows = []
  const bound = profile.interval * profile.healthy_threshold + profile.interval
  // long enough for the ejection to end by itself, so "back" is always measured
  const backCap = Math.max(bound * 3, 35_000)
  try {
    for (const node of nodes.filter((n) => pick.includes(n.name))) {
      const label = `127.0.0.1:${node.port}`
      const event = (type, after) => seen.find((e) => e.type === type && e.node === label && e.at >= after)
      const sentBefore = load.sent
      const downAt = performance.now()
      await node.down()
      await until(() => event('node.unhealthy', downAt), profile.interval * (profile.unhealthy_threshold + 2) + 1000)
      await sleep(200)
      await node.up()
      const upAt = node.upAt
      await until(() => node.firstServedAt > 0, backCap)
      await sleep(200)
      const ms = (e, from) => (e ? Math.round(e.at - from) : null)
      rows.push({
        profile: name,
        node: node.name,
        requests: load.sent - sentBefore,
        errors: load.errors.filter((e) => e.at >= downAt).length,
        ejected_ms: ms(event('node.ejected', downAt), downAt),
        unhealthy_ms: ms(event('node.unhealthy', downAt), downAt),
        healthy_again_ms: ms(event('node.healthy', upAt), upAt),
        traffic_again_ms: node.firstServedAt > 0 ? Math.round(node.firstServedAt - upAt) : null,
        bound_ms: bound,
        back_cap_ms: backCap,
      })
      load.errors.length = 0
    }
  } finally {
    await load.stop()
    await cutover.close()
    await Promise.all(nodes.map((n) => n.down()))
  }
  return rows
}

function table(rows) {
  const head = ['profile', 'node', 'requests', 'client errors', 'ejected after', 'unhealthy after', 'back: healthy after', 'back: traffic after', 'bound i×h+i']
  const fmt = (v) => (v === null ? '—' : `${v} ms`)
  return textTable(
    head,
    rows.map((r) => [
      r.profile,
      r.node,
      String(r.requests),
      String(r.errors),
      fmt(r.ejected_ms),
      fmt(r.unhealthy_ms),
      fmt(r.healthy_again_ms),
      r.traffic_again_ms === null ? `> ${r.back_cap_ms} ms` : fmt(r.traffic_again_ms),
      `${r.bound_ms} ms`,
    ]),
  )
}

async function main() {
  const { values } = parseArgs({
    options: { profile: { type: 'string', default: 'fast' }, rate: { type: 'string', default: '500' }, nodes: { type: 'string', default: 'x1,y1' } },
  })
  const profiles = values.profile === 'both' ? ['fast', 'example'] : [values.profile]
  for (const p of profiles) if (!PROFILES[p]) throw new Error(`unknown profile ${p}: fast, example or both`)
  const rows = []
  for (const p of profiles) {
    process.stderr.write(`failover-time: profile ${p}, ${values.rate} req/s, nodes ${values.nodes}\n`)
    rows.push(...(await measureProfile(p, { rate: Number(values.rate), pick: values.nodes.split(',') })))
  }
  console.log(table(rows))
  console.log('\nprofiles: fast = interval 200ms, thresholds 2, max_failures 3, eject_for 30s; example = config/cutover.yaml (interval 5s, thresholds 2, max_failures 5, eject_for 30s)')
  console.log('times after the node went down (ejected, unhealthy) or came back (healthy, traffic); "bound" is interval × healthy_threshold + interval')
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
