/**
 * Shadowing with proxy.workers: 2 — each worker copies its own share of its own traffic and
 * its results reach the primary, which serves /v1/shadow, cutover_shadow_total and the
 * max_shadow_mismatch_rate gate over all workers.
 */

import { writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { TOKEN, tempDir } from '../helpers/cutover.js'
import { api, run, type Running, yaml } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

// forks a primary and two workers: a guard against a hang, not a measure of speed
t.setTimeout(120_000)

/** x says v 1, y says v 2 (and 500 on /fail): every copy is a mismatch. */
function node(role: 'x' | 'y') {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    const y = role === 'y'
    res.writeHead(y && req.url === '/fail' ? 500 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ v: y ? 2 : 1 }))
  }
}

/** A GET on a fresh connection, so the primary hands it to either worker. */
async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers: { connection: 'close', ...headers }, reset: true, headersTimeout: 5_000, bodyTimeout: 5_000 })
  await res.body.text()
  return res.statusCode
}

async function metrics(c: Running): Promise<string> {
  const res = await fetch(`${c.controlUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return res.text()
}

t.test('two workers: /v1/shadow, the metric and the gate count the copies of both', async (t) => {
  const x = await startUpstream('x', node('x'))
  const y = await startUpstream('y', node('y'))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  const extra = [
    'shadow: { share: 100 }',
    'gates: { min_requests: 20, max_shadow_mismatch_rate: 0.5 }',
    'rollout: { steps: [{ y: 0, hold: 1s }, { y: 100 }] }',
    // every request in the access log, with the pid of the worker that served it
    'log: { access: true, access_sample: 1 }',
  ].join('\n')
  writeFileSync(path, yaml(dir, [x.url], [y.url], extra, 'workers: 2'))
  const c = await run(path)
  t.teardown(async () => {
    c.child.kill('SIGTERM')
    await c.exited
    await Promise.all([x.close(), y.close()])
  })

  t.equal((await api(c, 'POST', '/v1/rollout')).status, 200)
  const n = 40
  for (let i = 0; i < n; i++) t.equal(await get(`${c.proxyUrl}/users/${1000 + i}?apikey=k-secret`, { authorization: 'Bearer t-secret' }), 200)
  for (let i = 0; i < 4; i++) t.equal(await get(`${c.proxyUrl}/fail`), 200, 'the client gets x')

  const servedBy = new Set(c.logs.filter((l) => l.path !== undefined && l.worker !== undefined).map((l) => l.worker))
  t.equal(servedBy.size, 2, 'both workers served requests')

  const report = await waitUntil(
    'every copy counted at the primary',
    async () => {
      const { body } = await api(c, 'GET', '/v1/shadow')
      return body.totals.mismatch >= n + 4 ? body : undefined
    },
    15_000,
  )
  t.same(report.totals, { match: 0, mismatch: n + 4, error: 0, dropped: 0 }, 'the copies of both workers, each once')
  t.equal(report.mismatch_rate, 1)
  const classes = new Map(report.classes.map((k: { method: string; route: string; x_status: number; y_status: number; count: number }) => [`${k.method} ${k.route} ${k.x_status}->${k.y_status}`, k]))
  // biome-ignore lint/suspicious/noExplicitAny: the API's JSON
  const users = classes.get('GET /users/:id 200->200') as any
  t.equal(users.count, n, 'one class for the copies of both workers')
  t.same(users.differences, ['body field v'])
  t.equal(users.samples.length, 3, 'no more samples than one process keeps')
  t.equal(users.samples[0].headers.authorization, '[redacted]')
  t.match(users.samples[0].target, /apikey=…$/)
  // biome-ignore lint/suspicious/noExplicitAny: the API's JSON
  t.equal((classes.get('GET /fail 200->500') as any).count, 4)
  t.notMatch(JSON.stringify(report), /-secret/, 'redacted in the worker, before IPC')

  const text = await metrics(c)
  t.match(text, new RegExp(`cutover_shadow_total\\{outcome="mismatch"\\} ${n + 4}\\b`), 'the metric, summed over the processes once')

  const holding = await waitUntil(
    'the first step held by the shadow gate',
    async () => {
      const { body } = await api(c, 'GET', '/v1/state')
      return body.rollout?.holding?.includes(`${n + 4} of ${n + 4}`) ? body.rollout.holding : undefined
    },
    10_000,
  )
  t.match(holding, /shadow: y disagrees with x on 44 of 44 answers \(1 > max_shadow_mismatch_rate 0.5\)/, 'the gate judges the copies of all workers')
})
