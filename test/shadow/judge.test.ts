/**
 * The comparison of two large JSON bodies does not hold the data plane's event loop: it
 * runs in steps, at most TURN_MS of them a turn (a counted clock says how long each took,
 * its afterIo queue is the turns), one comparison at a time, with the result compareAnswers
 * gives at once. And end to end, through a copy against a real y: large bodies compared
 * right, reordered keys a match, one changed field deep inside a mismatch naming it.
 */

import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import type { ShadowConfig } from '../../src/config/analysis.js'
import { buildRoutingTable, type Router } from '../../src/routing/table.js'
import { type Comparison, compareAnswers, type ShadowAnswer } from '../../src/shadow/compare.js'
import { Judge, TURN_MS } from '../../src/shadow/judge.js'
import { ShadowResults } from '../../src/shadow/results.js'
import { Shadower } from '../../src/shadow/shadower.js'
import { node, silentLogger } from '../forwarding/fixtures.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

/** A JSON document of about `bytes` (under 256 KiB), its keys in order or reversed, one field changed where asked. */
function doc(bytes: number, options: { reversed?: boolean; change?: number; id?: string } = {}): Buffer {
  const items: Record<string, unknown>[] = []
  for (let i = 0; items.length * 160 < bytes; i++) {
    const item: Record<string, unknown> = {
      id: 1000 + i,
      name: `user-${i}`,
      email: `u${i}@example.com`,
      plan: i === options.change ? 'pro' : 'free',
      tags: ['a', 'b', String(i)],
      meta: { at: 1700000000 + i, score: i * 1.5, big: 12345678901234567000 + i },
    }
    items.push(options.reversed === true ? Object.fromEntries(Object.entries(item).reverse()) : item)
  }
  // a 64-bit id JSON.parse would round: the scan for such numbers runs over the whole body
  const text = JSON.stringify({ data: items, id: '@' }).replace('"@"', options.id ?? '12345678901234567890')
  return Buffer.from(text)
}

function answer(body: Buffer): ShadowAnswer {
  return { status: 200, headers: ['content-type', 'application/json'], bodyHash: createHash('sha1').update(body).digest('hex'), bodyLength: body.length, json: body }
}

const options = { ignoreHeaders: new Set<string>(), ignoreFields: [] }

/** A clock whose every reading is `tick` ms after the last; afterIo queues the next turn for the test to run. */
function countedClock(tick: number) {
  let now = 0
  const turns: Array<() => void> = []
  return {
    readings: 0,
    turns,
    monotonic() {
      this.readings++
      now += tick
      return now
    },
    afterIo(fn: () => void) {
      turns.push(fn)
    },
  }
}

t.test('two large JSON bodies: compared in bounded turns, with the result compareAnswers gives at once', async (t) => {
  const x = answer(doc(240 * 1024))
  const cases: Array<[string, ShadowAnswer, string[]]> = [
    ['keys in another order', answer(doc(240 * 1024, { reversed: true })), []],
    ['one field deep inside changed', answer(doc(240 * 1024, { change: 1300 })), ['body field data[1300].plan']],
    ['a 64-bit id one apart', answer(doc(240 * 1024, { id: '12345678901234567891' })), ['body field id']],
  ]
  for (const [what, y, differences] of cases) {
    const at = compareAnswers(x, y, options)
    t.same(at.differences, differences, `${what}: at once`)
    // each reading of the clock a quarter of TURN_MS later: a turn ends after 4 steps
    const tick = TURN_MS / 4
    const clock = countedClock(tick)
    const judge = new Judge(clock)
    let got: Comparison | null | undefined
    judge.judge(x, y, options, (c) => {
      got = c
    })
    t.equal(got, undefined, `${what}: not decided in the turn it began`)
    let turns = 1
    let mostReadings = 0
    while (clock.turns.length > 0) {
      const before = clock.readings
      clock.turns.shift()!()
      mostReadings = Math.max(mostReadings, clock.readings - before)
      turns++
      if (turns > 10_000) break
    }
    t.same(got, at, `${what}: the same result over ${turns} turns`)
    t.ok(turns >= 10, `${what}: spread over turns (${turns})`)
    // a reading at the turn's start and one after each step: at most TURN_MS / tick steps
    t.ok(mostReadings <= 1 + TURN_MS / tick, `${what}: at most ${TURN_MS / tick} steps a turn (${mostReadings - 1})`)
    t.equal(judge.pending, 0, 'nothing left')
  }
})

t.test('one comparison at a time, in order; stopped ones are not made', async (t) => {
  const clock = countedClock(TURN_MS / 2)
  const judge = new Judge(clock)
  const x = answer(doc(64 * 1024))
  const order: string[] = []
  judge.judge(x, answer(doc(64 * 1024, { change: 3 })), options, (c) => order.push(`first ${c?.differences.join()}`))
  judge.judge(x, answer(doc(64 * 1024, { reversed: true })), options, (c) => order.push(`second ${c?.match}`))
  t.equal(judge.pending, 2)
  while (clock.turns.length > 0 && order.length === 0) clock.turns.shift()!()
  t.same(order, ['first body field data[3].plan'], 'the first decided before the second')
  while (clock.turns.length > 0) clock.turns.shift()!()
  t.same(order, ['first body field data[3].plan', 'second true'])
  judge.judge(x, answer(doc(64 * 1024, { change: 9 })), options, (c) => order.push(`stopped ${c}`))
  judge.close()
  t.equal(order.at(-1), 'stopped null', 'a comparison under way at the stop is not made')
  while (clock.turns.length > 0) clock.turns.shift()!()
  t.equal(judge.pending, 0)
})

function shadowConfig(): ShadowConfig {
  return {
    share: 100,
    methods: ['GET'],
    max_concurrent: 8,
    timeout: 10_000,
    header: 'x-cutover-shadow',
    ignore_headers: ['date', 'x-upstream'],
    ignore_fields: [],
    json_max: 256 * 1024,
    redact_headers: [],
    max_body_bytes: 64 * 1024,
  }
}

/** The fake clock, each monotonic reading `tick` ms after the last, its afterIo the turns the test runs. */
class CountedClock extends FakeClock {
  #extra = 0
  readonly turns: Array<() => void> = []
  constructor(readonly tick: number) {
    super()
  }
  override monotonic(): number {
    this.#extra += this.tick
    return super.monotonic() + this.#extra
  }
  override afterIo(fn: () => void): void {
    this.turns.push(fn)
  }
}

t.test('end to end through a copy: large JSON bodies compared right, over several turns of the event loop', async (t) => {
  const x = doc(240 * 1024)
  const bodies = new Map([
    ['/same', doc(240 * 1024, { reversed: true })],
    ['/changed', doc(240 * 1024, { change: 1200 })],
  ])
  const y = await startUpstream('y', (req, res: ServerResponse) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(bodies.get(req.url ?? '') ?? '{}')
  })
  const clock = new CountedClock(TURN_MS / 4)
  const router: Router = { table: buildRoutingTable(0, { x: [], y: [node('y', y.port)] }, () => true, { y: 0 }) }
  const results = new ShadowResults({ clock })
  const shadower = new Shadower({ config: shadowConfig(), results, router, clock, random: () => 0, logger: silentLogger, https: false })
  t.teardown(async () => {
    await shadower.close()
    await y.close()
  })
  let judged = 0
  for (const path of bodies.keys()) {
    const copy = shadower.pickStream({ ':method': 'GET', ':path': path, ':authority': 'a' }, true)!
    copy.respond(200, ['content-type', 'application/json'], '127.0.0.1')
    // x's body relayed in pieces, as the engine does
    for (let i = 0; i < x.length; i += 16 * 1024) copy.body(x.subarray(i, i + 16 * 1024))
    await waitUntil(`y’s answer to ${path} whole`, () => y.seen.length === judged + 1 && shadower.idleConnections === 1, 5000)
    copy.end()
    t.equal(results.totals.match + results.totals.mismatch, judged, `${path}: not decided in the turn x’s answer ended`)
    t.equal(shadower.inflight, 1, 'the comparison holds its slot')
    let turns = 0
    while (clock.turns.length > 0) {
      clock.turns.shift()!()
      turns++
    }
    t.ok(turns >= 10, `${path}: decided over ${turns} more turns`)
    t.equal(results.totals.match + results.totals.mismatch, ++judged, `${path}: then decided`)
  }
  t.same(results.totals, { match: 1, mismatch: 1, error: 0, dropped: 0 })
  t.same(
    results.report().classes.map((c) => [c.route, c.differences]),
    [['/changed', ['body field data[1200].plan']]],
  )
  t.equal(shadower.inflight, 0, 'no slot held')
  t.equal(shadower.judging, 0)
})
