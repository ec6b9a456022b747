// Node faults (issue 7, point 3) with real misbehaving servers behind a whole cutover:
// what the client sees, and the kind each is counted under in cutover_upstream_errors_total.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import { seededRandom, systemClock } from '../../src/clock.js'
import { Forwarder } from '../../src/forwarding/forwarder.js'
import { ProxyServer } from '../../src/forwarding/proxy-server.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import { node as fixtureNode, proxyConfig, RecordingSink, silentLogger } from '../forwarding/fixtures.js'
import { startTestCutover, type TestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { delay, rawExchange, rawUpstream } from './raw.js'

/** The value of cutover_upstream_errors_total for one node and kind. */
async function upstreamErrors(c: TestCutover, port: number, kind: string): Promise<number> {
  const text = await (await fetch(`${c.controlUrl}/metrics`)).text()
  const re = new RegExp(`^cutover_upstream_errors_total\\{[^}]*node="127\\.0\\.0\\.1:${port}"[^}]*kind="${kind}"[^}]*\\} (\\d+)`, 'm')
  const m = re.exec(text)
  return m ? Number(m[1]) : -1
}

t.test('a node that accepts and never answers: 504 after request_timeout, kind timeout', async (t) => {
  const silent = await rawUpstream(() => undefined)
  const c = await startTestCutover({ x: [`http://127.0.0.1:${silent.port}`], y: [], proxy: '  request_timeout: 300ms' })
  t.teardown(async () => {
    await c.cutover.close()
    await silent.close()
  })
  const start = Date.now()
  const res = await fetch(`${c.proxyUrl}/slow`)
  const ms = Date.now() - start
  t.equal(res.status, 504)
  t.type((await res.json()).message, 'string')
  t.ok(ms >= 250 && ms < 2500, `answered after ${ms} ms (request_timeout 300 ms; undici's timers tick about every 0.5 s, tolerance 250..2500)`)
  t.equal(await upstreamErrors(c, silent.port, 'timeout'), 1)
})

t.test('a node that answers garbage: 502, kind protocol', async (t) => {
  const garbage = await rawUpstream((socket) => socket.end('HELLO THERE\r\n\r\n'))
  const c = await startTestCutover({ x: [`http://127.0.0.1:${garbage.port}`], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await garbage.close()
  })
  const res = await fetch(`${c.proxyUrl}/x`)
  t.equal(res.status, 502)
  t.type((await res.json()).message, 'string')
  t.equal(garbage.connections, 1, 'not retried: the node may have acted on it')
  t.equal(await upstreamErrors(c, garbage.port, 'protocol'), 1)
})

t.test('a node that resets mid-body: the client sees a broken response, kind reset', async (t) => {
  const cutLength = await rawUpstream((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'a'.repeat(10))
    setTimeout(() => socket.resetAndDestroy(), 20)
  })
  const cutChunked = await rawUpstream((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n')
    setTimeout(() => socket.resetAndDestroy(), 20)
  })
  const a = await startTestCutover({ x: [`http://127.0.0.1:${cutLength.port}`], y: [] })
  const b = await startTestCutover({ x: [`http://127.0.0.1:${cutChunked.port}`], y: [] })
  t.teardown(async () => {
    await a.cutover.close()
    await b.cutover.close()
    await cutLength.close()
    await cutChunked.close()
  })
  const one = await rawExchange(a.cutover.proxyAddress.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 2000)
  t.equal(one.status, 200, 'the head had been relayed')
  t.ok(one.closed, 'the connection is closed')
  t.match(one.text, /content-length: 1000/i)
  t.ok(one.text.split('\r\n\r\n')[1].length < 1000, 'fewer bytes than announced: visibly broken')
  const two = await rawExchange(b.cutover.proxyAddress.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 2000)
  t.equal(two.status, 200)
  t.ok(two.closed)
  t.match(two.text, /hello/)
  t.notMatch(two.text, /\r\n0\r\n\r\n$/, 'no last chunk: visibly broken')
  // and a real client library calls it an error, not a short success
  const err = await fetch(`${a.proxyUrl}/`)
    .then((r) => r.text())
    .then(
      () => null,
      (e: Error) => e,
    )
  t.ok(err, 'fetch rejects the body')
  t.ok((await upstreamErrors(a, cutLength.port, 'reset')) >= 2, 'counted as reset')
  t.ok((await upstreamErrors(b, cutChunked.port, 'reset')) >= 1, 'counted as reset')
})

t.test('a node that resets before answering: an idempotent request is retried elsewhere', async (t) => {
  const resetter = await rawUpstream((socket) => socket.resetAndDestroy())
  const good = await startUpstream('good')
  const c = await startTestCutover({ x: [`http://127.0.0.1:${resetter.port}`, good.url], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await resetter.close()
    await good.close()
  })
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${c.proxyUrl}/r${i}`)
    t.equal(res.status, 200, `GET ${i}`)
    await res.text()
  }
  t.ok(resetter.connections >= 1, 'the resetting node was tried')
  t.equal(await upstreamErrors(c, resetter.port, 'reset'), resetter.connections, 'each reset counted')
})

/** A node that can go down (listener closed, every connection cut) and come back on its port. */
async function flappingNode(name: string): Promise<{ port: number; url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume()
    req.on('end', () => res.end(JSON.stringify({ upstream: name })))
  }
  let server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  let isUp = true
  const down = async () => {
    if (!isUp) return
    isUp = false
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
  const up = async () => {
    if (isUp) return
    server = http.createServer(handler)
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    isUp = true
  }
  return { port, url: `http://127.0.0.1:${port}`, down, up, close: down }
}

/** Drive bodiless idempotent requests from 16 loops for ms; every non-200 or error is a failure. */
/**
 * 16 closed-loop clients until enough() says so (checked every 20 ms) or capMs passes.
 * The end is a count of what happened, not a time: a loaded machine just takes longer.
 */
async function load(url: string, enough: (ok: number) => boolean, capMs = 20000): Promise<{ ok: number; failures: string[] }> {
  const agent = new Agent({ connections: 16 })
  let stop = false
  const failures: string[] = []
  let ok = 0
  const worker = async () => {
    while (!stop) {
      // bodiless: a body already streamed to a node that reset cannot be sent again
      const method = ok % 3 === 0 ? 'DELETE' : 'GET'
      try {
        const r = await request(`${url}/load`, { method, dispatcher: agent })
        await r.body.text()
        if (r.statusCode === 200) ok++
        else failures.push(`${method} ${r.statusCode}`)
      } catch (err) {
        failures.push(`${method} ${(err as Error).message}`)
      }
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  const cap = Date.now() + capMs
  while (!enough(ok) && Date.now() < cap) await delay(20)
  stop = true
  await Promise.all(workers)
  await agent.close()
  return { ok, failures }
}

/**
 * Take nodes down and up in turn until stopped: down downMs, then up upMs (the scenario's
 * rhythm, not a wait for anything). cycles counts the finished down-and-up rounds.
 */
function flap(nodes: Array<{ down(): Promise<void>; up(): Promise<void> }>, downMs: number, upMs: number): { stop: () => Promise<void>; cycles: () => number } {
  let stop = false
  let cycles = 0
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const n = nodes[i % nodes.length]
      await n.down()
      await delay(downMs)
      await n.up()
      await delay(upMs)
      cycles++
    }
  })()
  return {
    stop: () => {
      stop = true
      return done
    },
    cycles: () => cycles,
  }
}

t.test('a node flapping under load: no client-visible error for idempotent requests', async (t) => {
  const nodes = await Promise.all(['a', 'b', 'c'].map(flappingNode))
  const c = await startTestCutover({ x: nodes.map((n) => n.url), y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all(nodes.map((n) => n.close()))
  })
  const flapping = flap([nodes[0]], 80, 80)
  // six rounds of the node going away and coming back, and at least 200 answers
  const { ok, failures } = await load(c.proxyUrl, (ok) => ok >= 200 && flapping.cycles() >= 6)
  await flapping.stop()
  t.ok(ok >= 200 && flapping.cycles() >= 6, `${ok} requests answered over ${flapping.cycles()} flaps`)
  t.same(failures.slice(0, 10), [], `no client-visible error (${failures.length} in all)`)
  const errors = Math.max(0, await upstreamErrors(c, nodes[0].port, 'connect')) + Math.max(0, await upstreamErrors(c, nodes[0].port, 'reset'))
  t.ok(errors > 0, `the flapping was seen and counted (${errors} connect/reset errors)`)
})

t.test('every node flapping in turn, all but one ejected: retries fall back on ejected nodes', async (t) => {
  const nodes = await Promise.all(['a', 'b', 'c'].map(flappingNode))
  const upstream = nodes.map((n) => fixtureNode('x', n.port))
  // as if a and b had been ejected: only c is in the routing table
  const router = { table: buildRoutingTable(0, { x: upstream, y: [] }, (n) => n === upstream[2], { y: 0 }) }
  const proxy = proxyConfig({ retries: 2 })
  const forwarder = new Forwarder({
    proxy,
    router,
    sink: new RecordingSink(),
    random: seededRandom(7),
    clock: systemClock,
    logger: silentLogger,
    https: false,
    allNodes: () => ({ x: upstream, y: [] }),
  })
  const app = new ProxyServer({ proxy, forwarder, logger: silentLogger })
  const { port } = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => {
    app.closeAllConnections()
    await app.close()
    await Promise.all(upstream.map((n) => n.dispatcher.destroy()))
    await Promise.all(nodes.map((n) => n.close()))
  })
  const flapping = flap(nodes, 60, 40)
  // every node down at least twice, and at least 200 answers
  const { ok, failures } = await load(`http://127.0.0.1:${port}`, (ok) => ok >= 200 && flapping.cycles() >= 6)
  await flapping.stop()
  t.ok(ok >= 200 && flapping.cycles() >= 6, `${ok} requests answered over ${flapping.cycles()} flaps`)
  t.same(failures.slice(0, 10), [], `no client-visible error (${failures.length} in all)`)
  t.equal(forwarder.inflight, 0, 'nothing left in flight')
})
