/**
 * What shadow.timeout bounds: y's answer, from the copy sent to y until that answer is
 * whole, not x's. A copy is driven through the engine's tap (ShadowCopy) by hand, against
 * a real y on 127.0.0.1, with a fake clock for the time limit: x's answer takes as long as
 * the test says, without a timed wait.
 */

import type { ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { FakeClock } from '../../src/clock.js'
import type { ShadowConfig } from '../../src/config/analysis.js'
import { buildRoutingTable, type Router } from '../../src/routing/table.js'
import { ShadowResults } from '../../src/shadow/results.js'
import { Shadower } from '../../src/shadow/shadower.js'
import { node, silentLogger } from '../forwarding/fixtures.js'
import { type Handler, startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const TIMEOUT = 1000

function config(over: Partial<ShadowConfig> = {}): ShadowConfig {
  return {
    share: 100,
    methods: ['GET', 'POST'],
    max_concurrent: 4,
    timeout: TIMEOUT,
    header: 'x-cutover-shadow',
    ignore_headers: ['date'],
    ignore_fields: [],
    json_max: 256 * 1024,
    redact_headers: [],
    max_body_bytes: 64 * 1024,
    ...over,
  }
}

async function setup(t: Test, handler: Handler) {
  const y = await startUpstream('y', handler)
  const clock = new FakeClock()
  const router: Router = { table: buildRoutingTable(0, { x: [], y: [node('y', y.port)] }, () => true, { y: 0 }) }
  const results = new ShadowResults({ clock })
  const shadower = new Shadower({ config: config(), results, router, clock, random: () => 0, logger: silentLogger, https: false })
  t.teardown(async () => {
    await shadower.close()
    await y.close()
  })
  return { y, clock, results, shadower }
}

const JSON_HEAD = ['content-type', 'application/json']

t.test('x streams its answer for longer than the time limit, y answered at once: compared, not dropped', async (t) => {
  const { y, clock, results, shadower } = await setup(t, (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"big":"download"}')
  })
  const copy = shadower.pickStream({ ':method': 'GET', ':path': '/download', ':authority': 'a' }, true)!
  t.ok(copy, 'sampled')
  copy.respond(200, JSON_HEAD, '127.0.0.1')
  copy.body(Buffer.from('{"big":'))
  // y's answer whole: its connection goes back to the idle ones
  await waitUntil('y’s answer whole', () => y.seen.length === 1 && shadower.idleConnections === 1, 5000)
  // x's body goes on for ten times the time limit, a piece a beat
  for (let i = 0; i < 10; i++) {
    clock.advance(TIMEOUT)
    copy.body(Buffer.from(' '))
  }
  t.same(results.droppedReasons, { busy: 0, no_y_node: 0, timeout: 0, x_aborted: 0, body_too_large: 0, x_failed: 0 }, 'no copy dropped while x streams')
  copy.body(Buffer.from('"download"}'))
  copy.end()
  t.same(results.totals, { match: 1, mismatch: 0, error: 0, dropped: 0 }, 'compared once x’s answer is whole')
  t.equal(shadower.inflight, 0, 'the slot is free')
})

t.test('a y that does not answer: dropped at the time limit, counted from the copy sent to y', async (t) => {
  const held: ServerResponse[] = []
  const { y, clock, results, shadower } = await setup(t, (req, res) => {
    req.resume()
    held.push(res)
  })
  t.teardown(() => {
    for (const r of held) r.destroy()
  })
  const copy = shadower.pickStream({ ':method': 'POST', ':path': '/p', ':authority': 'a', 'content-length': '2' }, false)!
  t.ok(copy, 'sampled')
  // x answers before the request body is whole; the copy goes to y only once it is
  copy.respond(200, JSON_HEAD, '127.0.0.1')
  copy.requestBody(Buffer.from('hi'))
  clock.advance(TIMEOUT - 100)
  copy.requestEnd()
  await waitUntil('y has the copy', () => held.length === 1, 5000)
  t.equal(y.seen[0].method, 'POST')
  clock.advance(TIMEOUT - 100)
  t.equal(results.totals.dropped, 0, 'y’s time limit counts from the copy sent, not from x’s head')
  copy.body(Buffer.from('{}'))
  copy.end()
  clock.advance(200)
  t.same(results.totals, { match: 0, mismatch: 0, error: 0, dropped: 1 }, 'past y’s time limit: dropped')
  t.equal(results.droppedReasons.timeout, 1, 'as timeout')
  t.equal(shadower.inflight, 0, 'the slot is free')
})

t.test('a request body that never comes whole after x answered: dropped at the time limit', async (t) => {
  const { y, clock, results, shadower } = await setup(t, (req, res) => {
    req.resume()
    res.end()
  })
  const copy = shadower.pickStream({ ':method': 'POST', ':path': '/p', ':authority': 'a' }, false)!
  copy.respond(200, JSON_HEAD, '127.0.0.1')
  copy.requestBody(Buffer.from('h'))
  clock.advance(TIMEOUT + 100)
  t.equal(results.droppedReasons.timeout, 1, 'dropped as timeout')
  t.equal(y.seen.length, 0, 'y never got half a request')
  t.equal(shadower.inflight, 0, 'the slot is free')
})

t.test('y’s body held back for x’s slower one to catch up: the time limit waits with it, and runs on after', async (t) => {
  // y takes the copy and says nothing itself: its answer is played to the copy by hand
  const held: ServerResponse[] = []
  const { clock, results, shadower } = await setup(t, (req, res) => {
    req.resume()
    held.push(res)
  })
  t.teardown(() => {
    for (const r of held) r.destroy()
  })
  const page = Buffer.alloc(2 * 1024 * 1024, 'a')
  const text = ['content-type', 'text/plain']
  const play = (copy: ReturnType<Shadower['pickStream']>) => copy as unknown as { yHead(status: number, headers: string[]): void; yBody(chunk: Buffer): void; yDone(): void }
  const first = shadower.pickStream({ ':method': 'GET', ':path': '/a', ':authority': 'a' }, true)!
  first.respond(200, text, '127.0.0.1')
  await waitUntil('y has the copy', () => held.length === 1, 5000)
  // y runs 2 MiB ahead of x's answer: held
  play(first).yHead(200, [...text])
  play(first).yBody(page)
  clock.advance(10 * TIMEOUT)
  t.equal(results.totals.dropped, 0, 'no time limit while y waits for x')
  first.body(page)
  play(first).yDone()
  first.end()
  t.same(results.totals, { match: 1, mismatch: 0, error: 0, dropped: 0 }, 'compared')

  // held again, then x catches up and y says no more: its time limit runs on from where it stood
  const second = shadower.pickStream({ ':method': 'GET', ':path': '/b', ':authority': 'a' }, true)!
  second.respond(200, text, '127.0.0.1')
  await waitUntil('y has the second copy', () => held.length === 2, 5000)
  clock.advance(TIMEOUT / 2)
  play(second).yHead(200, [...text])
  play(second).yBody(page)
  clock.advance(10 * TIMEOUT)
  second.body(page)
  clock.advance(TIMEOUT / 2 - 200)
  t.equal(results.totals.dropped, 0, 'not yet: y has used less than its time limit')
  clock.advance(400)
  t.equal(results.droppedReasons.timeout, 1, 'past it: dropped')
  t.equal(shadower.inflight, 0, 'no slot held')
})
