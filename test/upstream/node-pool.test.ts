// The per-node connection pools: reuse most recently used first, the cap with a queue,
// what is never reused, and reloads reaching nodes that stay.
import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import type { NodeConfig } from '../../src/config/types.js'
import { FakeClock } from '../../src/clock.js'
import type { UpstreamConnection } from '../../src/upstream/connection.js'
import { idleLimitOf, NodePool, type PoolWaiter } from '../../src/upstream/node-pool.js'
import { Upstreams } from '../../src/upstream/upstreams.js'
import { valid } from '../config/fixtures.js'
import { close, listen, node, startProxy } from '../forwarding/fixtures.js'
import { waitUntil } from '../helpers/wait.js'

/** A TCP server that counts connections and reads everything. */
async function tcpServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let n = 0
  const server = net.createServer((s) => {
    n++
    sockets.add(s)
    s.on('error', () => undefined).resume()
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => n,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

function nodeConfig(port: number): NodeConfig {
  return { url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, name: `127.0.0.1:${port}`, protocol: 'http:', hostname: '127.0.0.1', port, weight: 1 }
}

/** A waiter that records what it was granted. */
function waiter(): { granted: UpstreamConnection[]; w: PoolWaiter } {
  const granted: UpstreamConnection[] = []
  return { granted, w: { granted: (c) => granted.push(c), moved: () => undefined } }
}

const connected = (c: UpstreamConnection) => waitUntil('connected', () => c.connected, 2000)

/** A pool of the given idle timeout to a counting server, with two connections open and busy. */
async function poolOfTwo(t: Test, idleTimeout: number) {
  const server = await tcpServer()
  const pool = new NodePool(nodeConfig(server.port), { connectTimeout: 1000, idleTimeout })
  t.teardown(async () => {
    await pool.destroy()
    await server.close()
  })
  const { w } = waiter()
  const a = pool.acquire(w, 0)!
  const b = pool.acquire(w, 0)!
  await connected(a)
  await connected(b)
  return { server, pool, w, a, b }
}

t.test('idle connections are reused most recently used first; stale ones are closed', async (t) => {
  const { server, pool, w, a, b } = await poolOfTwo(t, 200)
  t.equal(pool.open, 2)
  pool.release(a, 10)
  pool.release(b, 20)
  t.equal(pool.idle, 2)
  t.equal(pool.acquire(w, 30), b, 'the most recently released first')
  t.equal(pool.acquire(w, 30), a)
  pool.release(a, 40)
  const fresh = pool.acquire(w, 40 + 200)
  t.not(fresh, a, 'an idle connection past idleTimeout is not reused')
  await waitUntil('the stale one closed', () => a.closed, 2000)
  t.equal(server.connections(), 3)
})

t.test("a connection is not reused past its node's own Keep-Alive limit; older ones are still looked at", async (t) => {
  const { pool, w, a, b } = await poolOfTwo(t, 30_000)
  b.idleLimit = 500 // its node said Keep-Alive: timeout=1
  pool.release(a, 10)
  pool.release(b, 20)
  t.equal(pool.acquire(w, 20 + 499), b, 'within its limit')
  pool.release(b, 600)
  t.equal(pool.acquire(w, 600 + 500), a, 'past it: closed, and the older one, under the pool limit, is reused')
  await waitUntil('b closed', () => b.closed, 2000)
  pool.release(a, 2000)
  t.equal(pool.acquire(w, 2000 + 29_999), a, 'a connection whose node said nothing: the pool limit')
})

t.test('idleLimitOf: a second under what the node says, half of it under 2 s', async (t) => {
  t.equal(idleLimitOf(5), 4000, "Node's own servers say 5")
  t.equal(idleLimitOf(60), 59_000)
  t.equal(idleLimitOf(2), 1000)
  t.equal(idleLimitOf(1), 500)
  t.equal(idleLimitOf(0), 0, 'timeout=0: never reused')
})

t.test("through the proxy: a node's Keep-Alive timeout=1 keeps its connections from reuse after 500 ms idle", async (t) => {
  const clock = new FakeClock()
  let conns = 0
  const server = http.createServer((req, res) => {
    res.setHeader('keep-alive', req.url === '/short' ? 'timeout=1, max=100' : 'timeout=60')
    res.end('ok')
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', () => conns++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const n = node('x', (server.address() as net.AddressInfo).port)
  const p = await startProxy({ x: [n], clock })
  t.teardown(async () => {
    await p.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${p.port}${path}`)
    t.equal(await r.text(), 'ok')
    t.notOk(r.headers.has('keep-alive'), "the node's Keep-Alive is hop-by-hop: not relayed")
  }
  await get('/long')
  clock.advance(600)
  await get('/short')
  t.equal(conns, 1, 'timeout=60 said: reused after 600 ms idle')
  clock.advance(499)
  await get('/short')
  t.equal(conns, 1, 'timeout=1 said: reused after 499 ms idle')
  clock.advance(500)
  await get('/long')
  t.equal(conns, 2, 'timeout=1 said: a new connection after 500 ms idle')
})

t.test('at the cap a request waits for a connection to come free, then gets it', async (t) => {
  const server = await tcpServer()
  const pool = new NodePool(nodeConfig(server.port), { connectTimeout: 1000, maxConnections: 2 })
  t.teardown(async () => {
    await pool.destroy()
    await server.close()
  })
  const first = waiter()
  const a = pool.acquire(first.w, 0)!
  const b = pool.acquire(first.w, 0)!
  const third = waiter()
  t.equal(pool.acquire(third.w, 0), null, 'queued at the cap')
  t.equal(pool.waiting, 1)
  await connected(a)
  pool.release(a, 1)
  t.same(third.granted, [a], 'the freed connection goes to the one waiting')
  const fourth = waiter()
  t.equal(pool.acquire(fourth.w, 1), null)
  pool.discard(b)
  await waitUntil('a new connection for the waiter once one closed', () => fourth.granted.length === 1, 2000)
  t.not(fourth.granted[0], b)
  const fifth = waiter()
  t.equal(pool.acquire(fifth.w, 1), null)
  pool.cancel(fifth.w)
  t.equal(pool.waiting, 0, 'a waiter that gives up leaves the line')
  pool.configure({ connectTimeout: 500, maxConnections: 0 })
  t.equal(pool.connectTimeout, 500)
  t.ok(pool.acquire(fifth.w, 1), 'no cap after a reload that lifts it')
})

t.test('through the proxy: the node never sees more connections than the cap; every request is answered', async (t) => {
  const held: http.ServerResponse[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    req.resume()
    held.push(res)
  })
  server.on('connection', (s) => sockets.add(s))
  const n = node('x', await listen(server), 1, { connectTimeout: 1000, headersTimeout: 5000, maxConnections: 2 })
  const p = await startProxy({ x: [n] })
  t.teardown(async () => {
    await p.close()
    await close(server)
  })
  const answers = Array.from({ length: 5 }, (_, i) => fetch(`http://127.0.0.1:${p.port}/r${i}`).then((r) => r.text()))
  await waitUntil('two held by the node', () => held.length === 2, 2000)
  t.equal(p.forwarder.inflight, 5, 'five in flight, three of them waiting for a connection')
  t.equal(sockets.size, 2)
  // answer as they come: each freed connection carries a waiting request
  const release = setInterval(() => {
    for (const res of held.splice(0)) res.end('done')
  }, 10)
  t.same(await Promise.all(answers), ['done', 'done', 'done', 'done', 'done'])
  clearInterval(release)
  t.equal(sockets.size, 2, 'still only two connections')
})

t.test('a connection that answered garbage or was cut is never reused', async (t) => {
  let conns = 0
  const server = net.createServer((s) => {
    conns++
    s.on('error', () => undefined)
    s.once('data', (d) => {
      const path = d.toString('latin1').split(' ')[1]
      if (path === '/garbage') s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA')
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const n = node('x', (server.address() as net.AddressInfo).port)
  const p = await startProxy({ x: [n] })
  t.teardown(async () => {
    await p.close()
    await new Promise((r) => server.close(r))
  })
  let r = await fetch(`http://127.0.0.1:${p.port}/garbage`)
  t.equal(await r.text(), 'ok', 'the client gets the body the node announced')
  await waitUntil('the connection that sent bytes past its body is closed', () => n.dispatcher.open === 0, 2000)
  r = await fetch(`http://127.0.0.1:${p.port}/fine`)
  t.equal(await r.text(), 'ok')
  t.equal(conns, 2, 'a new connection for the next request')
})

t.test('a reload applies connect_timeout, the cap and the keep-alive timeout to nodes that stay', async (t) => {
  const text = (timeout: string, cap: number, idle = '30s') =>
    `proxy:\n  connect_timeout: ${timeout}\n  upstream_max_connections: ${cap}\n  upstream_keepalive_timeout: ${idle}\ncontrol:\n  token: secret-token-123\npools:\n  x: { nodes: [http://127.0.0.1:8001] }\n  y: { nodes: [] }\n`
  const upstreams = new Upstreams(valid(text('2s', 64)))
  t.teardown(() => upstreams.close(true))
  const before = upstreams.nodes.x[0]
  t.equal(before.dispatcher.connectTimeout, 2000)
  t.equal(before.dispatcher.idleTimeout, 30_000, 'upstream_keepalive_timeout defaults to 30 s')
  const changes = upstreams.reconcile(valid(text('250ms', 8, '10s')))
  t.same(changes, { added: [], removed: [] }, 'the node stays')
  t.equal(upstreams.nodes.x[0], before, 'the same node object')
  t.equal(before.dispatcher.connectTimeout, 250, 'with the new connect_timeout')
  t.equal(before.dispatcher.maxConnections, 8, 'and the new cap')
  t.equal(before.dispatcher.idleTimeout, 10_000, 'and the new keep-alive timeout')
})

t.test('moveWaiters tells each waiting request, in line order; one that cancels leaves the line', async (t) => {
  const server = await tcpServer()
  const pool = new NodePool(nodeConfig(server.port), { connectTimeout: 1000, maxConnections: 1 })
  t.teardown(async () => {
    await pool.destroy()
    await server.close()
  })
  const { w } = waiter()
  t.ok(pool.acquire(w, 0))
  const told: string[] = []
  const stays: PoolWaiter = { granted: () => undefined, moved: () => told.push('stays') }
  const leaves: PoolWaiter = {
    granted: () => undefined,
    moved: () => {
      told.push('leaves')
      pool.cancel(leaves)
    },
  }
  t.equal(pool.acquire(leaves, 0), null)
  t.equal(pool.acquire(stays, 0), null)
  t.equal(pool.waiting, 2)
  pool.moveWaiters()
  t.same(told, ['leaves', 'stays'])
  t.equal(pool.waiting, 1, 'the one that moved left the line; the other is still in it')
  pool.cancel(stays)
})
