/// <reference lib="dom" />
/**
 * The console's replicas panel (issue 11) in headless Chromium: a real cutover's
 * GET /v1/state with a fleet section added on its way to the page (the fleet itself, with
 * etcd and several processes, is test/fleet/'s), shown as one row per replica, the leader
 * marked, each replica's own view of the nodes; and hidden again without it.
 */

import t from 'tap'
import { browserSkip, consolePage } from '../helpers/console-page.js'
import type { FleetView } from '../../src/control/api-types.js'
import { startTestCutover, TOKEN } from '../helpers/cutover.js'
import { fleetView } from '../helpers/fixtures.js'
import { startUpstream } from '../helpers/upstream.js'

t.test('the replicas panel shows every replica and which leads', { skip: browserSkip }, async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url] })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  let fleet: FleetView | null = fleetView()
  const { page, problems } = await consolePage(t)
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
  t.equal(r2[1], '10.0.0.2:9901')
  t.match(r2[2], /^\d\d:\d\d:\d\d$/)
  t.same(r2.slice(3), ['900 req, 9 err (1%)', '100 req, 0 err (0%)', '2 of 2 usable'])
  t.equal((await cells('r3'))[5], '1 of 2 usable (not y:y1)', "r3's own view of the nodes")
  t.equal(await page.locator('#fleet-rows tr[data-replica="r3"] td.health').getAttribute('data-h'), 'unhealthy')

  fleet = null
  await page.locator('#fleet-panel').waitFor({ state: 'hidden' })
  t.same(problems, [])
})
