import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FakeClock } from '../../src/clock.js'
import { EventLog } from '../../src/state/events.js'
import { backoffMs, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_MS, WebhookNotifier } from '../../src/notify/webhook.js'
import { waitUntil } from '../helpers/wait.js'

type Test = Pick<typeof t, 'teardown' | 'equal'>

interface Received {
  text: string
  event: { id: number; type: string; [k: string]: unknown }
}

/** A webhook receiver on 127.0.0.1:0; `reply` decides each answer (default 200). */
async function receiver(t: Test, reply: (n: number, res: ServerResponse) => void = (_n, res) => res.end('ok')) {
  const got: Received[] = []
  const held: Array<() => void> = []
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      t.equal(req.headers['content-type'], 'application/json')
      reply(got.length, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, held }
}

const quiet = { warn: () => undefined }

function setup(t: Test, url: string, extra: { queueLimit?: number } = {}) {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const counts = { failures: 0, dropped: 0 }
  const notifier = new WebhookNotifier({
    url,
    events,
    clock,
    logger: quiet,
    ...extra,
    onFailure: () => counts.failures++,
    onDropped: () => counts.dropped++,
  })
  t.teardown(() => notifier.stop())
  return { clock, events, notifier, counts }
}

t.test('events go out in order with a Slack text and the event itself', async (t) => {
  const r = await receiver(t)
  const { events, notifier } = setup(t, r.url)
  events.add('split.changed', { cause: 'api', from: 0, to: 30 })
  events.add('rollback', { cause: 'gate', reason: 'error_rate 0.083 > 0.01 over 412 requests', from: 30, to: 0 })
  events.add('node.unhealthy', { pool: 'y', node: '10.0.0.21:8000', cause: '2 failed probes' })
  events.add('unlock', { cause: 'api' })
  await waitUntil('4 posts', () => r.got.length === 4, 2000, 5)
  await notifier.whenIdle()
  t.same(
    r.got.map((g) => g.event.type),
    ['split.changed', 'rollback', 'node.unhealthy', 'unlock'],
  )
  t.same(
    r.got.map((g) => g.event.id),
    [1, 2, 3, 4],
    'in id order',
  )
  t.match(r.got[0].text, /Split set by the API: y 0% → 30%/)
  t.match(r.got[1].text, /^:rotating_light: cutover: The gate rolled y back to x: error_rate 0\.083 > 0\.01 over 412 requests/)
  t.match(r.got[2].text, /y node 10\.0\.0\.21:8000 is unhealthy: 2 failed probes/)
  t.equal(r.got[1].event.reason, 'error_rate 0.083 > 0.01 over 412 requests', 'details pass through')
  t.same(notifier.stats, { sent: 4, failed: 0, dropped: 0, retries: 0, queued: 0 })
})

t.test('only notable event types are sent', async (t) => {
  const r = await receiver(t)
  const { events, notifier } = setup(t, r.url)
  const types = [
    'startup',
    'rollback',
    'access',
    'gate.failed',
    'rollout.step',
    'node.ejected',
    'node.returned',
    'node.healthy',
    'config.reloaded',
    'state.unreadable',
    'splitchanged',
    'unlock',
    'split.changed',
  ]
  for (const type of types) events.add(type, { cause: 'api' })
  await waitUntil('10 posts', () => r.got.length === 10, 2000, 5)
  await notifier.whenIdle()
  t.same(
    r.got.map((g) => g.event.type),
    ['rollback', 'gate.failed', 'rollout.step', 'node.ejected', 'node.returned', 'node.healthy', 'config.reloaded', 'state.unreadable', 'unlock', 'split.changed'],
  )
})

t.test('a 500 is retried after the backoff, then delivered', async (t) => {
  const r = await receiver(t, (n, res) => {
    res.statusCode = n === 1 ? 500 : 200
    res.end()
  })
  const { clock, events, notifier, counts } = setup(t, r.url)
  events.add('rollback', { cause: 'api', reason: 'by hand', from: 10, to: 0 })
  await waitUntil('first attempt', () => r.got.length === 1, 2000, 5)
  await notifier.whenIdle()
  t.equal(notifier.stats.retries, 1, 'a retry is scheduled')
  clock.advance(backoffMs(1) - 1)
  await notifier.whenIdle() // a POST the clock set off too early would be received by now
  t.equal(r.got.length, 1, 'not before the backoff')
  clock.advance(1)
  await waitUntil('second attempt', () => r.got.length === 2, 2000, 5)
  await notifier.whenIdle()
  t.equal(r.got[1].event.id, r.got[0].event.id, 'the same event again')
  t.same(notifier.stats, { sent: 1, failed: 0, dropped: 0, retries: 1, queued: 0 })
  t.equal(counts.failures, 0)
})

t.test('given up after the last attempt, counted, and the queue goes on', async (t) => {
  const r = await receiver(t, (_n, res) => {
    const e = r.got[r.got.length - 1].event
    res.statusCode = e.type === 'rollback' ? 503 : 200
    res.end()
  })
  const { clock, events, notifier, counts } = setup(t, r.url)
  events.add('rollback', { reason: 'x' })
  events.add('unlock', { cause: 'api' })
  for (let n = 1; n < WEBHOOK_MAX_ATTEMPTS; n++) {
    await waitUntil(`attempt ${n}`, () => r.got.length === n, 2000, 5)
    await notifier.whenIdle()
    t.equal(counts.failures, 0, `not given up after ${n}`)
    clock.advance(backoffMs(n))
  }
  await waitUntil('the last attempt and the next event', () => r.got.length === WEBHOOK_MAX_ATTEMPTS + 1, 2000, 5)
  await notifier.whenIdle()
  t.same(
    r.got.map((g) => g.event.type),
    [...Array(WEBHOOK_MAX_ATTEMPTS).fill('rollback'), 'unlock'],
  )
  t.equal(counts.failures, 1, 'onFailure once')
  t.same(notifier.stats, { sent: 1, failed: 1, dropped: 0, retries: WEBHOOK_MAX_ATTEMPTS - 1, queued: 0 })
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('backoff doubles and is capped', async (t) => {
  t.same([1, 2, 3, 4, 5, 7, 8, 20].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 60000, 60000, 60000])
})

t.test('a 4xx is not retried; a 429 is', async (t) => {
  const r = await receiver(t, (n, res) => {
    res.statusCode = n === 1 ? 400 : n === 2 ? 429 : 200
    if (n === 2) res.setHeader('retry-after', '3')
    res.end()
  })
  const { clock, events, notifier, counts } = setup(t, r.url)
  events.add('rollback', { reason: 'a' })
  events.add('rollback', { reason: 'b' })
  await waitUntil('two posts', () => r.got.length === 2, 2000, 5)
  await notifier.whenIdle()
  t.equal(counts.failures, 1, 'the 400 is given up at once')
  t.equal(notifier.stats.retries, 1, 'the 429 waits')
  clock.advance(2999)
  await notifier.whenIdle() // a POST the clock set off too early would be received by now
  t.equal(r.got.length, 2, 'Retry-After (3 s) is longer than the backoff and wins')
  clock.advance(1)
  await waitUntil('retry of the 429', () => r.got.length === 3, 2000, 5)
  t.same(
    r.got.map((g) => g.event.reason),
    ['a', 'b', 'b'],
  )
})

t.test('a webhook that does not answer times out after 5 s and is retried', async (t) => {
  const r = await receiver(t, (n, res) => {
    if (n > 1) res.end()
    else r.held.push(() => res.end())
  })
  const { clock, events, notifier } = setup(t, r.url)
  t.teardown(() => {
    for (const f of r.held) f()
  })
  events.add('gate.failed', { reason: 'p99' })
  await waitUntil('first attempt', () => r.got.length === 1, 2000, 5)
  clock.advance(WEBHOOK_TIMEOUT_MS)
  await notifier.whenIdle()
  t.equal(notifier.stats.retries, 1)
  clock.advance(backoffMs(1))
  await waitUntil('retry', () => r.got.length === 2, 2000, 5)
  await notifier.whenIdle()
  t.equal(notifier.stats.sent, 1)
})

t.test('the queue is bounded: the oldest waiting events are dropped and counted', async (t) => {
  const r = await receiver(t, (n, res) => {
    if (n === 1) r.held.push(() => res.end())
    else res.end()
  })
  const { events, notifier, counts } = setup(t, r.url, { queueLimit: 3 })
  for (let i = 1; i <= 6; i++) events.add('split.changed', { from: i - 1, to: i })
  await waitUntil('first post held', () => r.got.length === 1 && r.held.length === 1, 2000, 5)
  t.equal(counts.dropped, 3, 'three dropped')
  t.equal(notifier.stats.queued, 3)
  r.held[0]()
  await waitUntil('the rest', () => r.got.length === 3, 2000, 5)
  await notifier.whenIdle()
  t.same(
    r.got.map((g) => g.event.to),
    [1, 5, 6],
    'the one in flight and the newest survive, in order',
  )
  t.same(notifier.stats, { sent: 3, failed: 0, dropped: 3, retries: 0, queued: 0 })
})

t.test('never throws into the event log; stop() cancels timers', async (t) => {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  // EventLog swallows a throwing listener; hold the listener itself to prove it never throws
  let listener: ((e: Parameters<Parameters<EventLog['subscribe']>[0]>[0]) => void) | undefined
  const subscribe = events.subscribe.bind(events)
  events.subscribe = (l) => {
    listener = l
    return subscribe(l)
  }
  let calls = 0
  const notifier = new WebhookNotifier({
    url: 'http://127.0.0.1:1/never',
    events,
    clock,
    logger: quiet,
    fetch: (() => {
      calls++
      throw new Error('boom')
    }) as unknown as typeof fetch,
    onFailure: () => {
      throw new Error('broken counter')
    },
  })
  t.doesNotThrow(() => listener!({ id: 1, at: new Date(clock.now()).toISOString(), type: 'rollback', reason: 'x' }))
  await notifier.whenIdle()
  t.equal(calls, 1)
  t.equal(clock.pending, 1, 'a retry timer')
  for (let n = 1; n < WEBHOOK_MAX_ATTEMPTS; n++) {
    clock.advance(backoffMs(n))
    await notifier.whenIdle()
  }
  t.equal(calls, WEBHOOK_MAX_ATTEMPTS)
  t.equal(notifier.stats.failed, 1, 'a throwing onFailure does not stall the queue')
  events.add('rollback', { reason: 'y' })
  await notifier.whenIdle()
  t.equal(clock.pending, 1)
  notifier.stop()
  t.equal(clock.pending, 0, 'stop cancels the retry timer')
  events.add('rollback', { reason: 'z' })
  t.equal(calls, WEBHOOK_MAX_ATTEMPTS + 1, 'nothing sent after stop')
})
