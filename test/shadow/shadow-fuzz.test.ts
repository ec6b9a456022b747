// The connection fuzz of test/forwarding/connection-fuzz.test.ts (raw clients pipelining
// GET, HEAD, POST and PUT with Content-Length or chunked bodies, 100-continue, HTTP/1.0,
// upgrades, split writes, half-closes and slow reads; raw nodes that answer in every
// framing, early, or cut, reset and stall), with every request x serves copied (share 100,
// every method) to a hostile y: per copy it answers whole (by length, chunked, until the
// close), after a 1xx, with a 101, before reading the body, with 1 MiB, with garbage, with a
// second answer behind the first, or cuts, resets or stalls. The primary's answers must be
// judged exactly as without shadowing (the same judge), y's connections stay bounded by the
// cap, every copy ends (no slot or buffered body left), each is counted at most once, and
// shadowing works on afterwards.
//
// CI runs seed 20261130 and 120 connections (a few seconds). More, or another seed:
//   CUTOVER_FUZZ_SEED=7 CUTOVER_FUZZ_CONNS=1000 npx tap --disable-coverage test/shadow/shadow-fuzz.test.ts
import type net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import t from 'tap'
import { seededRandom, systemClock } from '../../src/clock.js'
import type { ShadowConfig } from '../../src/config/analysis.js'
import { ClientConnection } from '../../src/forwarding/client-connection.js'
import { ProxyServer } from '../../src/forwarding/proxy-server.js'
import type { RequestHead } from '../../src/http1/index.js'
import { buildRoutingTable, type Router } from '../../src/routing/table.js'
import { ShadowResults } from '../../src/shadow/results.js'
import { Shadower } from '../../src/shadow/shadower.js'
import { runConnection } from '../forwarding/connection-fuzz/client.js'
import { recordDeadlines } from '../forwarding/connection-fuzz/deadlines.js'
import { fuzzNode } from '../forwarding/connection-fuzz/fuzz-node.js'
import { judge, type Tally } from '../forwarding/connection-fuzz/judge.js'
import { connectionRandom, type NodePlan, type ScriptedConnection, scriptConnection } from '../forwarding/connection-fuzz/script.js'
import { node, silentLogger, startProxy } from '../forwarding/fixtures.js'
import { tlsFiles } from '../helpers/h2.js'
import { startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const SEED = Number(process.env.CUTOVER_FUZZ_SEED ?? 20261130)
const CONNS = Number(process.env.CUTOVER_FUZZ_CONNS ?? 120)
const CONCURRENCY = 12
const CAP = 4
const DEADLINE_MS = 10_000
/** shadow.max_concurrent */
const SHADOW_CAP = 4
/** shadow.timeout, ms */
const SHADOW_TIMEOUT = 300

const Y_FAULTS = ['length', 'chunked', 'until-close', 'interim', 'switch', 'early', 'huge', 'garbage', 'twice', 'cut', 'reset', 'stall'] as const
type YFault = (typeof Y_FAULTS)[number]

/** A hostile y: reads each copy (Content-Length bodies: a copy always has one) and answers as its seeded fault says. */
function hostileY(onCopy: (fault: YFault) => void, calm: () => boolean) {
  let n = 0
  return startRawServer((s: net.Socket) => {
    let buf: Buffer = Buffer.alloc(0)
    let left = -1
    let done = false
    const answer = (fault: YFault, id: string) => {
      const body = `{"y":"${id}"}`
      switch (fault) {
        case 'length':
        case 'early':
          s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
          return
        case 'chunked':
          s.write(
            `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n3\r\n${body.slice(0, 3)}\r\n${(body.length - 3).toString(16)}\r\n${body.slice(3)}\r\n0\r\nx-t: 1\r\n\r\n`,
          )
          return
        case 'until-close':
          done = true
          s.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n${body}`)
          return
        case 'interim':
          s.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
          return
        case 'switch':
          s.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n')
          return
        case 'huge': {
          done = true
          s.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1048576\r\n\r\n')
          const piece = Buffer.alloc(65536, 0x61)
          let sent = 0
          const more = () => {
            while (sent < 16 && !s.destroyed) {
              sent++
              if (!s.write(piece)) return void s.once('drain', more)
            }
          }
          more()
          return
        }
        case 'garbage':
          done = true
          s.write('HTTP/1.1 2oo fine\r\n\u0000\u0001\r\n\r\n')
          return
        case 'twice':
          done = true
          s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n`)
          return
        case 'cut':
          done = true
          s.end(`HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n${body}`)
          return
        case 'reset':
          done = true
          s.resetAndDestroy()
          return
        case 'stall':
          done = true
          return
      }
    }
    let fault: YFault = 'length'
    let id = ''
    s.on('data', (d: Buffer) => {
      if (done) return
      buf = buf.length === 0 ? d : Buffer.concat([buf, d])
      for (;;) {
        if (done) return
        if (left < 0) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) return
          const head = buf.subarray(0, end).toString('latin1')
          buf = buf.subarray(end + 4)
          left = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
          id = /^\w+ \/r\/(\d+)/.exec(head)?.[1] ?? '?'
          fault = calm() ? 'length' : Y_FAULTS[n++ % Y_FAULTS.length]
          onCopy(fault)
          if (fault === 'early' || fault === 'reset' || fault === 'stall') answer(fault, id)
        }
        const take = Math.min(left, buf.length)
        buf = buf.subarray(take)
        left -= take
        if (left > 0) return
        left = -1
        if (fault !== 'early' && fault !== 'reset' && fault !== 'stall') answer(fault, id)
      }
    })
  })
}

t.test(`fuzzed connections with every x request copied to a hostile y: the primary's answers as without, y bounded (seed ${SEED}, ${CONNS} connections)`, async (t) => {
  const plans = new Map<number, NodePlan>()
  const seen = new Map<number, number>()
  // a 504 is judged by when the node's head was written and when cutover judged the deadline
  const timing = recordDeadlines(t)
  const nodes = await Promise.all([0, 1, 2].map(() => fuzzNode(plans, seen, () => undefined, timing.headsWhole)))
  const timeouts = { connectTimeout: 500, maxConnections: CAP }
  const upstream = [node('x', nodes[0].port, 1, timeouts), node('x', nodes[1].port, 1, timeouts), node('y', nodes[2].port, 1, timeouts)]
  const p = await startProxy({
    x: upstream.slice(0, 2),
    y: upstream.slice(2),
    share: 50,
    proxy: { request_timeout: 400, idle_timeout: 1000, header_timeout: 5000, keepalive_timeout: 5000, retries: 1 },
  })
  const overTls = new ProxyServer({ proxy: { ...p.forwarder.proxy, tls: tlsFiles() }, forwarder: p.forwarder, logger: silentLogger })
  const ports = { plain: p.port, tls: (await overTls.listen({ host: '127.0.0.1', port: 0 })).port }

  // the hostile y: a node of its own (copies must never reach the fuzz nodes, whose judge counts what they read)
  const faults = new Map<YFault, number>()
  let yOpen = 0
  let yPeak = 0
  let calm = false
  const y = await hostileY(
    (fault) => faults.set(fault, (faults.get(fault) ?? 0) + 1),
    () => calm,
  )
  const yNode = node('y', y.port, 1, timeouts)
  const shadowRouter: Router = { table: buildRoutingTable(0, { x: [], y: [yNode] }, () => true, { y: 0 }) }
  const config: ShadowConfig = {
    share: 100,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'],
    max_concurrent: SHADOW_CAP,
    timeout: SHADOW_TIMEOUT,
    header: 'x-cutover-shadow',
    ignore_headers: ['date'],
    ignore_fields: [],
    json_max: 256 * 1024,
    redact_headers: [],
    max_body_bytes: 64 * 1024,
  }
  const results = new ShadowResults({ clock: systemClock })
  const shadower = new Shadower({ config, results, router: shadowRouter, clock: systemClock, random: seededRandom(SEED), logger: silentLogger, https: false })
  // sampled: a copy made, or one dropped at the head (busy, body_too_large)
  let picked = 0
  const pick = shadower.pick.bind(shadower)
  const drop = results.drop.bind(results)
  let inPick = false
  results.drop = (reason) => {
    if (inPick) picked++
    drop(reason)
  }
  shadower.pick = (head: RequestHead) => {
    inPick = true
    const copy = pick(head)
    inPick = false
    if (copy !== null) picked++
    return copy
  }
  p.forwarder.shadow = shadower
  const peek = setInterval(() => {
    yOpen = y.open
    yPeak = Math.max(yPeak, yOpen)
  }, 5)
  t.teardown(async () => {
    clearInterval(peek)
    await shadower.close()
    overTls.closeAllConnections()
    await overTls.close()
    await p.close()
    await Promise.all([...nodes, y].map((n) => n.close()))
  })

  const resets = new Set<number>()
  const reset = ClientConnection.prototype.reset
  ClientConnection.prototype.reset = function (this: ClientConnection) {
    if (this.socket.remotePort !== undefined) resets.add(this.socket.remotePort)
    reset.call(this)
  }
  t.teardown(() => {
    ClientConnection.prototype.reset = reset
  })

  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const tally: Tally = { whole: 0, cut: 0, ownErrors: 0, unanswered: 0, lostToReset: 0, http10UntilClose: 0, switched: 0, declined: 0, tls: 0 }
  const failures: string[] = []
  const queue = Array.from({ length: CONNS }, (_, n) => n)
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const conn: ScriptedConnection = scriptConnection(SEED, n)
        for (const r of conn.requests) plans.set(r.id, r.plan)
        const got = await runConnection(ports, conn, connectionRandom(SEED ^ 0x5bd1e995, conn.n), DEADLINE_MS, (port) => resets.delete(port))
        got.cutoverReset = resets.has(got.port)
        const why = judge(conn, got, seen, tally, timing)
        if (why !== null) failures.push(`seed ${SEED} ${why}`)
      }
    }),
  )
  t.comment(
    `picked ${picked}, ${JSON.stringify(results.totals)} ${JSON.stringify(results.droppedReasons)}; tally ${JSON.stringify(tally)}; y faults ${JSON.stringify(Object.fromEntries(faults))}; y sockets at most ${yPeak}; event loop delay max ${Math.round(loop.max / 1e6)} ms`,
  )
  for (const f of failures.slice(0, 5)) t.fail(f)
  t.equal(failures.length, 0, 'every connection read what it would without shadowing')

  await waitUntil('every copy over', () => shadower.inflight === 0 && shadower.buffering === 0, 5000).catch(() => undefined)
  t.equal(shadower.inflight, 0, 'no copy holds a slot')
  t.equal(shadower.buffering, 0, 'no copy holds a request body')
  const counted = results.totals.match + results.totals.mismatch + results.totals.error + results.totals.dropped
  t.ok(picked > 50, `copies were made (${picked})`)
  t.ok(counted <= picked, `each copy counted at most once (${counted} of ${picked}: ${JSON.stringify(results.totals)} ${JSON.stringify(results.droppedReasons)})`)
  t.ok(results.totals.error > 0 && results.droppedReasons.timeout > 0, 'y’s failures and stalls were met')
  // in flight at most the cap, idle at most the cap
  t.ok(yPeak <= 2 * SHADOW_CAP, `y never had more than twice the cap of connections open (${yPeak})`)

  // and on: with y calm, copies are made and judged once the storm is over
  calm = true
  const judged = () => results.totals.match + results.totals.mismatch
  const before = judged()
  for (let i = 0; i < 20 && judged() === before; i++) {
    const conn = scriptConnection(SEED, CONNS + 1000 + i)
    for (const r of conn.requests) plans.set(r.id, r.plan)
    await runConnection(ports, conn, connectionRandom(SEED ^ 0x5bd1e995, conn.n), DEADLINE_MS, () => undefined)
  }
  await waitUntil('a later copy judged', () => judged() > before, 5000).catch(() => undefined)
  t.ok(judged() > before, 'copies are still sent and judged after it')
})
