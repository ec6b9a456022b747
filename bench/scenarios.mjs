// The bench scenarios. Each says what the clients send, how the proxies route (one x and
// one y node, or 100 of each; sticky header or weights) and what kind of measurement it is:
//   throughput  closed-loop, as fast as the proxy answers (autocannon, and wrk where installed)
//   rate        a fixed rate, half of nginx's small-get peak in this run (paced, wrk2-style)
//   hop         one request at a time, against each proxy and the upstream directly
//   conns       1,000 keep-alive connections held open at a low rate, for memory

export const STICKY_HEADER = 'x-consumer-id'
const MIB = 1024 * 1024

/** Every scenario, in run order (rate-p99 reuses small-get's nginx figure when it ran). */
export const SCENARIOS = [
  {
    name: 'small-get',
    what: 'GET / answering 100 bytes, 100 connections, as fast as possible',
    kind: 'throughput',
    nodes: 1,
    sticky: false,
    quick: true,
    load: { path: '/', connections: 100 },
  },
  {
    name: 'get-64k',
    what: 'GET /64k answering 64 KiB, 32 connections',
    kind: 'throughput',
    nodes: 1,
    sticky: false,
    quick: false,
    load: { path: '/64k', connections: 32 },
  },
  {
    name: 'post-1m',
    what: 'POST / with a 1 MiB body (read and discarded), 100-byte answer, 8 connections',
    kind: 'throughput',
    nodes: 1,
    sticky: false,
    quick: false,
    load: { path: '/', connections: 8, method: 'POST', bodyBytes: MIB },
  },
  {
    name: 'sticky',
    what: `everything on: GET / with a random ${STICKY_HEADER} per request, routed by its hash, 50 connections`,
    kind: 'throughput',
    nodes: 1,
    sticky: true,
    quick: true,
    load: { path: '/', connections: 50, headers: { [STICKY_HEADER]: 'c-[<id>]' } },
  },
  {
    name: 'nodes-100',
    what: 'GET /, 100 nodes per pool (200 upstream ports), 50 connections',
    kind: 'throughput',
    nodes: 100,
    sticky: false,
    quick: false,
    load: { path: '/', connections: 50 },
  },
  {
    name: 'rate-p99',
    what: "GET / at a fixed rate of half of nginx's small-get peak, 50 connections; p99 is the figure",
    kind: 'rate',
    nodes: 1,
    sticky: false,
    quick: true,
    // one run's p99 swings by up to 10x on a 2-core machine (bench/README.md, "The floor of
    // any Node.js relay at that rate"): a median of 2 or 3 says little; not in --quick
    minRounds: 7,
    load: { path: '/', connections: 50 },
  },
  {
    name: 'hop-latency',
    what: 'GET /, one request at a time on one connection; added = p50 minus p50 of the upstream direct',
    kind: 'hop',
    nodes: 1,
    sticky: false,
    quick: true,
    load: { path: '/', connections: 1 },
  },
  {
    name: 'conns-1000',
    what: '1,000 keep-alive connections opened and held, 1,000 req/s spread over them; peak RSS is the figure',
    kind: 'conns',
    nodes: 1,
    sticky: false,
    quick: true,
    load: { path: '/', connections: 1000, rate: 1000 },
  },
]

/**
 * The scenarios a run asks for: by name (`--scenario a,b`), else all, or the quick set.
 * @param {{ names?: string[], quick?: boolean }} options
 */
export function selectScenarios({ names, quick }) {
  if (names?.length) {
    const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n))
    if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
    return SCENARIOS.filter((s) => names.includes(s.name))
  }
  return quick ? SCENARIOS.filter((s) => s.quick) : SCENARIOS
}

/**
 * The upstream ports of x and y for a scenario, from the upstream's port list: the first
 * two for one node each, the next 200 for 100 each.
 */
export function poolPorts(scenario, ports) {
  if (scenario.nodes === 1) return { x: [ports[0]], y: [ports[1]] }
  const n = scenario.nodes
  if (ports.length < 2 + 2 * n) throw new Error(`upstream has ${ports.length} ports, ${scenario.name} needs ${2 + 2 * n}`)
  return { x: ports.slice(2, 2 + n), y: ports.slice(2 + n, 2 + 2 * n) }
}

/** Upstream ports the selected scenarios need. */
export function portsNeeded(scenarios) {
  return Math.max(2, ...scenarios.map((s) => (s.nodes === 1 ? 2 : 2 + 2 * s.nodes)))
}
