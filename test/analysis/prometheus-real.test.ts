/**
 * Debian's real Prometheus (when installed) scraping cutover itself: a PromQL gate on
 * cutover's own counters holds the first step without data and lets the rollout go on
 * once Prometheus has the figures; the real server's error and empty-result answers read
 * as the stand-in's do (no verdict).
 */

import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPromAnswer } from '../../src/analysis/prom-answer.js'
import { startTestCutover } from '../helpers/cutover.js'
import { closedPort, startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const PROMETHEUS = '/usr/bin/prometheus'
const QUERY = 'sum(cutover_requests_total{pool="x",code="2xx"}) >= 5'

t.test('a PromQL gate against a real Prometheus scraping cutover', { skip: existsSync(PROMETHEUS) ? false : `${PROMETHEUS} not installed` }, async (t) => {
  const port = await closedPort()
  const promUrl = `http://127.0.0.1:${port}`
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({
    x: [x.url],
    y: [y.url],
    extra: `analysis:\n  prometheus: { url: ${promUrl}, interval: 200ms, timeout: 1s }\n  queries:\n    - { name: x_served, query: '${QUERY}', min: 5 }\nrollout:\n  steps:\n    - { y: 0, hold: 100ms }\n    - { y: 100 }\n`,
  })
  const dir = mkdtempSync(join(tmpdir(), 'cutover-prom-'))
  const control = new URL(c.controlUrl)
  // most of this file's time is Prometheus's own start: the rollout was done about 6 s after
  // it was ready, with a scrape every 1 s or every 100 ms (Prometheus's scrape manager takes
  // new targets on a 5 s tick); the shorter interval saves the last scrape's wait
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 100ms, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: cutover\n    static_configs: [{ targets: ['${control.host}'] }]\n`,
  )
  const prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], {
    stdio: 'ignore',
  })
  const exited = new Promise((resolve) => prom.once('exit', resolve))
  t.teardown(async () => {
    prom.kill('SIGKILL')
    await exited
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  await waitUntil('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.status === 200, 30_000, 100)

  // the real server's shapes, read as the gate reads them
  const bad = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('sum(')}`)
  t.match(readPromAnswer(bad.status, await bad.json(), 'max'), { kind: 'none', why: /^Prometheus answered 400 bad_data: / })
  const none = await fetch(`${promUrl}/api/v1/query?query=no_such_metric_anywhere`)
  t.match(readPromAnswer(none.status, await none.json(), 'max'), { kind: 'none', why: /no data/ })

  t.equal((await c.api('POST', '/v1/rollout')).status, 200)
  const held = await waitUntil(
    'held without data',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return /x_served: no verdict/.test(body.rollout?.holding ?? '') ? body : undefined
    },
    15_000,
  )
  t.equal(held.split.y, 0, 'no data is never a pass')
  for (let i = 0; i < 6; i++) await fetch(`${c.proxyUrl}/r/${i}`).then((r) => r.text())
  const done = await waitUntil(
    'the rollout done once Prometheus has scraped the requests',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.rollout === null ? body : undefined
    },
    20_000,
    100,
  )
  t.equal(done.split.y, 100)
})
