import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildPacedC, completeResponse, runPaced, runPacedC } from '../../bench/paced.mjs'
import { startUpstream } from '../../bench/upstream.mjs'

t.test('completeResponse: content-length, chunked, partial', async (t) => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
  t.equal(completeResponse(Buffer.from(head + 'abc')), null, 'body not complete')
  t.same(completeResponse(Buffer.from(head + 'abcdeHTTP/1.1')), { status: 200, length: head.length + 5 })
  const chunked = 'HTTP/1.1 502 Bad Gateway\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
  t.same(completeResponse(Buffer.from(chunked)), { status: 502, length: chunked.length })
  t.equal(completeResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le')), null, 'head not complete')
})

t.test('runPaced holds the asked rate over every connection', async (t) => {
  const upstream = await startUpstream(1)
  t.teardown(() => upstream.close())
  let midway = false
  const r = await runPaced({
    url: `http://127.0.0.1:${upstream.ports[0]}/`,
    connections: 20,
    rate: 400,
    duration: 0.5,
    during: () => {
      midway = true
    },
  })
  t.equal(r.opened, 20)
  t.ok(midway, 'the midway hook ran')
  // 400/s for 0.5 s is 200 requests; those due while every connection was busy (a loaded
  // machine) go out late, never dropped
  t.equal(r.responses, 200, '400/s for 0.5 s')
  t.equal(r.unsent, 0)
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 0)
  t.ok(r.p50 > 0 && r.p99 >= r.p50)
})

// .ci/run installs cc; elsewhere these two say why they were skipped
const built = buildPacedC(mkdtempSync(join(tmpdir(), 'paced-c-')))
const noC = built.binary === null ? `bench/paced.c not built: ${built.reason}` : false

t.test('bench/paced.c: the same schedule in C; latency counts from when a request was due', { skip: noC }, async (t) => {
  const binary = built.binary!
  let stalled = false
  const server = createServer((req, res) => {
    if (req.url === '/chunked') {
      res.write('abc')
      res.end('de')
      return
    }
    // the first request of /stall waits 300 ms: the ones due meanwhile wait behind it
    const delay = req.url === '/stall' && !stalled ? 300 : 0
    stalled ||= req.url === '/stall'
    setTimeout(() => res.end('hello'), delay)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as AddressInfo).port

  let midway = false
  const r = await runPacedC(binary, { url: `http://127.0.0.1:${port}/`, connections: 20, rate: 400, duration: 0.5, during: () => (midway = true) })
  t.equal(r.tool, 'paced')
  t.equal(r.opened, 20)
  t.equal(r.responses, 200, '400/s for 0.5 s')
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 0)
  t.ok(midway, 'the midway hook ran')
  t.ok(r.p50 > 0 && r.p99 >= r.p50 && r.max >= r.p99)

  const chunked = await runPacedC(binary, { url: `http://127.0.0.1:${port}/chunked`, connections: 4, rate: 200, duration: 0.5 })
  t.equal(chunked.responses, 100, 'chunked answers are framed')
  t.equal(chunked.errors, 0)

  // one connection, 100/s: a 300 ms stall on the first answer delays ~30 requests due
  // meanwhile; measured from when each went out, only the first would look slow
  const stall = await runPacedC(binary, { url: `http://127.0.0.1:${port}/stall`, connections: 1, rate: 100, duration: 1 })
  t.equal(stall.responses, 100)
  t.ok(stall.max >= 290, `the stalled request counts its 300 ms (max ${stall.max} ms)`)
  t.ok(stall.p90 >= 100, `the requests due during the stall count their wait (p90 ${stall.p90} ms)`)
  t.ok(stall.lateRequests >= 20, `requests sent late are counted (${stall.lateRequests})`)
})

t.test('bench/paced.c refuses a target that is not loopback, and bad numbers', { skip: noC }, async (t) => {
  const run = (args: string[]) => spawnSync(built.binary!, args, { encoding: 'utf8' })
  const remote = run(['10.0.0.1', '80', '/', '100', '1', '1'])
  t.equal(remote.status, 2)
  t.match(remote.stderr, /loopback/)
  const zero = run(['127.0.0.1', '80', '/', '0', '1', '1'])
  t.equal(zero.status, 2)
  t.match(zero.stderr, /RATE, CONNECTIONS and SECONDS must be positive/)
})
