// Whole HTTP/2 connections through cutover, fuzzed: node:http2 clients with prior knowledge
// on the proxy port (a fifth over TLS with ALPN h2, to a second cutover) open 1-8 streams,
// at once or staggered: GET, HEAD, POST and PUT with bodies of random sizes (some beyond
// the 64 KiB stream window), with or without content-length, some with request trailers;
// a client resets a stream itself (CANCEL or NO_ERROR) halfway through its upload or its
// download, reads slowly through a small window, destroys its connection, or sends GOAWAY.
// h2c nodes (node:http2) and HTTP/1.1 nodes (node:http) answer in their framing as each
// request's seeded plan says (content-length or not / chunked, trailers, a 103 first) and
// on a first attempt may fail at the head or at a random byte of the body: the connection
// cut or reset, RST_STREAM (NO_ERROR, INTERNAL_ERROR, CANCEL), a stall, GOAWAY below or at
// the stream, REFUSED_STREAM. Every stream must read its own answer whole, or cutover's
// 502/503/504 where a failure explains it, or be visibly cut (RST_STREAM, or its
// connection ending without END_STREAM): never short and looking whole, never another
// stream's. A node reads a request body whole only as the client sent it whole, and a
// request with a body is processed once at most. cutover closes each connection once its
// client sent GOAWAY and FIN. Afterwards nothing is in flight, no node has a stream open,
// and no node had more connections or sessions than the caps allow.
//
// NOT IN THE DEFAULT RUN YET: it still fails now and then under load (Node 20 aborts with
// heap corruption, "corrupted size vs. prev_size", measured in about one run in five before
// the listener's gentle close; on Node 24 a stream cut with INTERNAL_ERROR after a node's
// GOAWAY failed one run in 20 at load average 5, after the fixes of 2026-12-01). CUTOVER_H2FUZZ=1 (or any CUTOVER_H2FUZZ_* below) runs it.
// Seed 20261201 and 100 connections by default (5-10 s). More, or another seed:
//   CUTOVER_H2FUZZ_SEED=7 CUTOVER_H2FUZZ_CONNS=2000 npx tap --disable-coverage test/h2/h2-fuzz.test.ts
// A failure names the seed, the connection, the stream, its script and what was read;
// CUTOVER_H2FUZZ_ONLY=<connection> replays that connection alone (the script is the same,
// the timing is not).
import t from 'tap'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { tlsFiles } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'
import { runConnection } from './h2-fuzz/client.js'
import { type FuzzNode, h1FuzzNode, h2FuzzNode, type Records } from './h2-fuzz/nodes.js'
import { judge, type Tally } from './h2-fuzz/judge.js'
import { connectionRandom, describeStream, type ScriptedStream, scriptConnection } from './h2-fuzz/script.js'

const SEED = Number(process.env.CUTOVER_H2FUZZ_SEED ?? 20261201)
const CONNS = Number(process.env.CUTOVER_H2FUZZ_CONNS ?? 100)
const ONLY = process.env.CUTOVER_H2FUZZ_ONLY === undefined ? undefined : Number(process.env.CUTOVER_H2FUZZ_ONLY)
/** connections open at once */
const CONCURRENCY = 8
/** proxy.upstream_max_connections: HTTP/1.1 connections and h2 sessions per node, per cutover */
const CAP = 3
/** a connection still open this long after it started is hung */
const DEADLINE_MS = 20_000

const ASKED = Object.keys(process.env).some((k) => k.startsWith('CUTOVER_H2FUZZ'))

t.test(
  `fuzzed h2 connections read whole answers, their own, and leave nothing behind (seed ${SEED}, ${CONNS} connections)`,
  { skip: ASKED ? false : 'set CUTOVER_H2FUZZ=1 to run (flaky, see the head comment)' },
  async (t) => {
    const scripts = new Map<number, ScriptedStream>()
    const records: Records = { attempts: new Map(), collateral: new Set() }
    const nodes: FuzzNode[] = await Promise.all([
      h2FuzzNode('h2a', scripts, records),
      h2FuzzNode('h2b', scripts, records),
      h1FuzzNode('h1a', scripts, records),
      h1FuzzNode('h1b', scripts, records),
      h1FuzzNode('h1c', scripts, records),
    ])
    const [h2a, h2b, h1a, h1b, h1c] = nodes
    const tls = tlsFiles()
    // pool x: nodes with an h2 listener (their url when it is ejected); y: an HTTP/1.1 node
    const options = (proxy: string) => ({
      x: [`{ url: "http://127.0.0.1:${h1a.port}", h2: "h2c://127.0.0.1:${h2a.port}" }`, `{ url: "http://127.0.0.1:${h1b.port}", h2: "h2c://127.0.0.1:${h2b.port}" }`],
      y: [`http://127.0.0.1:${h1c.port}`],
      // deadlines well above what a loaded machine (two fuzz runs on two cores) makes a healthy exchange wait
      proxy: `  request_timeout: 2500ms\n  idle_timeout: 2500ms\n  connect_timeout: 500ms\n  retries: 1\n  upstream_max_connections: ${CAP}\n${proxy}`,
      // no ejection, no rollback: every node stays in the split whatever the fuzz makes it do
      extra: 'split:\n  y: 50\nhealth:\n  passive:\n    max_failures: 1000000\ngates:\n  min_requests: 1000000\n',
    })
    const plain = await startTestCutover(options(''))
    const overTls = await startTestCutover(options(`  tls: { cert: ${tls.cert}, key: ${tls.key} }\n`))
    const cutovers: TestCutover[] = [plain, overTls]
    t.teardown(async () => {
      await Promise.all(cutovers.map((c) => c.cutover.close()))
      await Promise.all(nodes.map((n) => n.close()))
    })
    const ports = { plain: plain.cutover.proxyAddress.port, tls: overTls.cutover.proxyAddress.port }

    const tally: Tally = { whole: 0, ownErrors: 0, cut: 0, clientReset: 0, clientGone: 0, collateral: 0, retried: 0, tls: 0, earlyUnended: 0 }
    const failures: string[] = []
    const started = Date.now()
    const queue = ONLY === undefined ? Array.from({ length: CONNS }, (_, n) => n) : [ONLY]
    const total = queue.length
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
          const conn = scriptConnection(SEED, n)
          for (const s of conn.streams) scripts.set(s.id, s)
          // the client's timing draws from a generator of its own, apart from the script's
          const got = await runConnection(ports, conn, connectionRandom(SEED ^ 0x5bd1e995, n), DEADLINE_MS)
          // what the nodes read of it may still be on its way (a reset reaching the node)
          await waitUntil('its streams done at the nodes', () => nodes.every((x) => x.active === 0) || undefined, 50).catch(() => undefined)
          for (const why of judge(conn, got, records, tally)) failures.push(`seed ${SEED} ${why}`)
        }
      }),
    )
    t.comment(`${total} connections in ${Date.now() - started} ms: ${JSON.stringify(tally)}`)

    for (const f of failures.slice(0, 5)) t.fail(f)
    t.equal(failures.length, 0, `every stream read what it should (replay: CUTOVER_H2FUZZ_SEED=${SEED} CUTOVER_H2FUZZ_ONLY=<connection>)`)
    for (const n of nodes) t.ok(n.maxOpen <= CAP * cutovers.length, `${n.name}: at most ${CAP} connections from each cutover (most at once: ${n.maxOpen})`)
    const inflight = async () => {
      let sum = 0
      for (const c of cutovers) for (const pool of ['x', 'y']) sum += (await metricValue(c, `cutover_requests_in_flight{pool="${pool}"}`)) ?? 0
      return sum
    }
    await waitUntil('nothing in flight', async () => (await inflight()) === 0, 5000).catch(() => undefined)
    t.equal(await inflight(), 0, 'no request in flight at cutover')
    await waitUntil('no stream open at a node', () => nodes.every((n) => n.active === 0), 5000).catch(() => undefined)
    for (const n of nodes) t.equal(n.active, 0, `${n.name}: no request open (${[...n.openIds].map((id) => `${id}: ${describeStream(scripts.get(id)!)}`).join('; ')})`)
    t.ok(tally.whole > 0 && (ONLY !== undefined || (tally.cut > 0 && tally.ownErrors > 0 && tally.clientReset > 0)), 'whole answers, cut ones, cutover’s own errors and client resets were all met')
    if (ONLY === undefined) t.ok(tally.tls > 0 && tally.retried > 0, 'TLS connections and retried requests were met')
  },
)
