/**
 * A copy's life against the primary's: an x that answers before the request body is
 * whole, and shadowing switched off (a reload, the stop) with copies on their way. Each
 * copy ends at once and is counted for what happened, never blamed on y.
 */

import http2 from 'node:http2'
import net from 'node:net'
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { startRawServer, startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

t.test('x answers before the request body is whole: the copy is dropped at once (x_aborted), not at the time limit', async (t) => {
  const x = await startUpstream('x', (_req, res) => {
    // answered at the head, the body never read
    res.writeHead(401, { 'content-type': 'application/json', connection: 'close' })
    res.end('{"message":"no"}')
  })
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow:\n  share: 100\n  methods: [POST]\n  timeout: 60s\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const port = Number(new URL(c.proxyUrl).port)
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let got = ''
  socket.on('data', (d) => {
    got += d.toString('latin1')
  })
  socket.on('error', () => {})
  // a body of 1000 bytes of which 10 come: the rest never does
  socket.write(`POST /upload HTTP/1.1\r\nhost: a\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n${'b'.repeat(10)}`)
  await waitUntil('x’s answer relayed', () => got.includes('{"message":"no"}'), 5000)
  t.match(got, /^HTTP\/1\.1 401 /, 'the client gets x’s answer')
  const report = await waitUntil(
    'the copy counted',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.dropped >= 1 ? body : undefined
    },
    5000,
  )
  t.same(report.totals, { match: 0, mismatch: 0, error: 0, dropped: 1 })
  t.equal(report.dropped_reasons.x_aborted, 1, 'x answered before the request was whole: nothing to copy')
  t.equal(y.seen.length, 0, 'y never got half a request')
})

t.test('shadowing switched off by a reload with a copy on its way: cut, and not counted as y failing', async (t) => {
  const x = await startUpstream('x')
  const held: ServerResponse[] = []
  const y = await startUpstream('y', (req, res) => {
    req.resume()
    held.push(res)
  })
  const options = { x: [x.url], y: [y.url] }
  const c = await startTestCutover({ ...options, extra: 'shadow:\n  share: 100\n  timeout: 60s\n' })
  t.teardown(async () => {
    await c.cutover.close()
    for (const r of held) r.destroy()
    await Promise.all([x.close(), y.close()])
  })
  t.equal((await fetch(`${c.proxyUrl}/a`)).status, 200)
  await waitUntil('y has the copy', () => held.length === 1, 5000)
  await c.cutover.reload(parseConfig(testConfigYaml(options, c.stateDir)))
  // the copy's connection is closed: y sees it go
  await waitUntil('the copy cut', () => held[0].socket === null || held[0].socket.destroyed, 5000)
  t.equal((await fetch(`${c.proxyUrl}/b`)).status, 200)
  const { body } = await c.api('GET', '/v1/shadow')
  t.equal(body.totals.error, 0, 'y did not fail: shadowing stopped')
  t.equal(body.totals.match + body.totals.mismatch, 0)
})

t.test('x’s first node resets before answering and the request is retried on the next: one copy, counted once', async (t) => {
  let resets = 0
  const reset = await startRawServer((s) => {
    s.once('data', () => {
      resets++
      s.resetAndDestroy()
    })
  })
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  // retries: 2, so that the first retry stays in x (the last one tries the other pool first)
  const c = await startTestCutover({ x: [reset.url, x.url], y: [y.url], proxy: '  retries: 2', extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([reset.close(), x.close(), y.close()])
  })
  for (let i = 0; i < 10; i++) t.equal((await fetch(`${c.proxyUrl}/r/${i}`)).status, 200)
  t.ok(resets > 0, `requests were retried (${resets})`)
  const report = await waitUntil(
    'the copies judged',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.mismatch + body.totals.match >= 10 ? body : undefined
    },
    5000,
  )
  // x and y name themselves: every copy differs
  t.same(report.totals, { match: 0, mismatch: 10, error: 0, dropped: 0 })
  t.equal(y.seen.length, 10, 'one copy a request, retried or not')
  t.equal(x.seen.length, 10, 'x answered every request')
})

t.test('x gives no answer and the client gets cutover’s 502: the copy is not sent, and counted (x_failed)', async (t) => {
  // a head no HTTP parser takes: cutover's 502 (protocol), never retried
  const x = await startRawServer((s) => {
    s.once('data', () => s.end('HTTP/1.1 abc\r\n\r\n'))
  })
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], proxy: '  retries: 0\n  h2c_listen: 127.0.0.1:0', extra: 'shadow:\n  share: 100\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${c.proxyUrl}/f/${i}`)
    t.equal(res.status, 502, 'cutover’s own answer')
    await res.text()
  }
  // and an HTTP/2 stream
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(() => session.close())
  t.equal((await h2Request(session, { ':path': '/f/h2' })).status, 502, 'cutover’s own answer over h2')
  const report = await waitUntil(
    'the copies counted',
    async () => {
      const { body } = await c.api('GET', '/v1/shadow')
      return body.totals.dropped >= 4 ? body : undefined
    },
    5000,
  )
  t.same(report.totals, { match: 0, mismatch: 0, error: 0, dropped: 4 }, 'not blamed on y')
  t.equal(report.dropped_reasons.x_failed, 4, 'x gave no answer')
  t.equal(await metricValue(c, 'cutover_shadow_dropped_total{reason="x_failed"}'), 4)
  t.equal(y.seen.length, 0, 'y got no copy')
})
