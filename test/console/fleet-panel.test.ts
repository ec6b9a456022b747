/// <reference lib="dom" />
/**
 * The console's replicas panel (issue 11) in headless Chromium: a real cutover's
 * GET /v1/state with a fleet section added on its way to the page (the fleet itself, with
 * etcd and several processes, is test/fleet/'s), shown as one row per replica, the leader
 * marked, each replica's own view of the nodes; and hidden again without it.
 */

import { existsSync } from 'node:fs'
import t from 'tap'
import type { FleetView } from '../../src/control/api-types.js'
import { startTestCutover, TOKEN } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

const CHROMIUM = '/usr/bin/chromium'
const missing = !existsSync(CHROMIUM)

t.test('the replicas panel shows every replica and which leads', { skip: missing && !process.env.CI ? `no ${CHROMIUM}` : false }, async (t) => {
  const { chromium } = await import('playwright-core')
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const now = new Date().toISOString()
  const window = { requests: 0, errors: 0, error_rate: 0, p99_ms: 0 }
  const replica = (id: string, leader: boolean, unusable: string[] = []) => ({
    id,
    control: `127.0.0.1:990${id.slice(1)}`,
    started_at: now,
    last_seen: now,
    leader,
    traffic: { x: { requests: 120, errors: 0 }, y: { requests: 30, errors: 3 } },
    nodes: [
      { pool: 'x' as const, name: 'x1', usable: !unusable.includes('x1') },
      { pool: 'y' as const, name: 'y1', usable: !unusable.includes('y1') },
    ],
  })
  let fleet: FleetView | null = {
    replica_id: 'r1',
    leader: 'r2',
    leading: false,
    backend: { kind: 'etcd', up: true, reason: null, since: now },
    replicas: [replica('r1', false), replica('r2', true), replica('r3', false, ['y1'])],
    gates: { x: window, y: window, replicas: 3, verdict: 'none', reason: null, checks: [], evaluated_at: null, evaluated_by: 'r2' },
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const page = await (await browser.newContext()).newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  await page.route('**/v1/state', async (route) => {
    const res = await route.fetch()
    const body = await res.json()
    await route.fulfill({ response: res, json: fleet === null ? body : { ...body, fleet } })
  })
  await page.goto(`${c.controlUrl}/`)
  await page.locator('#token').fill(TOKEN)
  await page.keyboard.press('Enter')
  await page.locator('#fleet-panel').waitFor({ state: 'visible' })
  t.equal(await page.locator('#fleet-summary').textContent(), '3 replicas, r2 leads; etcd up. This page is served by r1.')
  t.equal(await page.locator('#fleet-rows tr').count(), 3)
  const cells = (id: string) => page.locator(`#fleet-rows tr[data-replica="${id}"] td`).allTextContents()
  const r2 = await cells('r2')
  t.equal(r2[0], 'r2 (leads)')
  t.equal(r2[1], '127.0.0.1:9902')
  t.match(r2[2], /^\d\d:\d\d:\d\d$/)
  t.same(r2.slice(3), ['120 req, 0 err (0%)', '30 req, 3 err (10%)', '2 of 2 usable'])
  t.equal((await cells('r3'))[5], '1 of 2 usable (not y:y1)', "r3's own view of the nodes")
  t.equal(await page.locator('#fleet-rows tr[data-replica="r3"] td.health').getAttribute('data-h'), 'unhealthy')

  fleet = null
  await page.locator('#fleet-panel').waitFor({ state: 'hidden' })
  t.same(problems, [])
})
