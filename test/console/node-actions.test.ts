/// <reference lib="dom" />
/**
 * The console's per-node control (issue 14) in headless Chromium against a real cutover:
 * drain from the node table, the last usable node asking for a second confirm (force),
 * ready again, and the viewer token's clear refusal.
 */

import t from 'tap'
import { browserSkip, consolePage } from '../helpers/console-page.js'
import { OPERATOR, startOperatorCutover, VIEWER } from '../control/operator-harness.js'
import { startUpstream } from '../helpers/upstream.js'

t.test('drain, maint with a second confirm, ready, and the viewer refused', { skip: browserSkip }, async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [`{ url: ${a.url}, name: kong-x1 }`, `{ url: ${b.url}, name: kong-x2 }`], y: [] })
  t.teardown(() => c.cutover.close())
  const { page, problems } = await consolePage(t)

  const admin = (name: string) => page.locator('#node-rows tr', { has: page.locator('td.node', { hasText: name }) }).locator('td.admin')
  const confirm = async (title: RegExp) => {
    await page.locator('#confirm').waitFor({ state: 'visible' })
    t.match(await page.locator('#confirm-title').textContent(), title)
    await page.locator('#confirm-ok').click()
  }
  const login = async (token: string) => {
    await page.goto(`${c.controlUrl}/`)
    // a saved token connects by itself and is stored again when its first answer comes, so
    // clearing sessionStorage behind the page's back races it: sign out through the page
    await page.locator('#login:not([hidden]), #console:not([hidden])').first().waitFor({ state: 'visible' })
    if (await page.locator('#logout').isVisible()) await page.locator('#logout').click()
    await page.locator('#token').fill(token)
    await page.keyboard.press('Enter')
    await page.locator('#console').waitFor({ state: 'visible' })
  }

  await login(OPERATOR)
  t.same(await page.locator('#node-rows td.admin').allTextContents(), ['ready', 'ready'])
  await page.locator('[data-node-action="x/kong-x1/drain"]').click()
  await confirm(/^Drain x\/kong-x1\?/)
  await page.waitForFunction(() => document.querySelector('[data-admin="drain"]') !== null)
  t.equal(await admin('kong-x1').textContent(), 'drain')
  t.match(await page.locator('#result').textContent(), /x\/kong-x1 is drain: it takes no new requests/)

  // kong-x2 is now the last usable node of x, which has all the traffic
  await page.locator('[data-node-action="x/kong-x2/maint"]').click()
  await confirm(/^Maint x\/kong-x2\?/)
  await confirm(/^Take the last node of x out\?/)
  await page.waitForFunction(() => document.querySelector('[data-admin="maint"]') !== null)
  t.equal(await admin('kong-x2').textContent(), 'maint')
  const state = (await c.call(OPERATOR, 'GET', '/v1/state')).body
  t.same(
    state.pools.x.nodes.map((n: { admin: string }) => n.admin),
    ['drain', 'maint'],
    'the API agrees',
  )

  for (const name of ['kong-x1', 'kong-x2']) {
    await page.locator(`[data-node-action="x/${name}/ready"]`).click()
    await confirm(new RegExp(`^Ready x/${name}\\?`))
    await page.waitForFunction((n) => Array.from(document.querySelectorAll('#node-rows tr')).some((tr) => tr.textContent?.includes(n) && tr.querySelector('[data-admin="ready"]')), name)
  }

  await login(VIEWER)
  await page.locator('[data-node-action="x/kong-x1/drain"]').click()
  await confirm(/^Drain x\/kong-x1\?/)
  await page.waitForFunction(() => document.querySelector('#result')?.getAttribute('data-kind') === 'error')
  t.match(await page.locator('#result').textContent(), /the viewer token may read, not change: PUT \/v1\/nodes\/x\/kong-x1 needs the operator token/)
  t.equal(await admin('kong-x1').textContent(), 'ready', 'nothing changed')
  t.same(problems, [], 'no page errors')
})

t.test('after a restart with more than a page of events the console catches up to the newest at once', { skip: browserSkip }, async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [`{ url: ${a.url}, name: kong-x1 }`, `{ url: ${b.url}, name: kong-x2 }`], y: [] })
  t.teardown(() => c.cutover.close())
  for (let i = 0; i < 1200; i++) await c.call(OPERATOR, 'PUT', '/v1/nodes/x/kong-x1', { weight: (i % 2) + 2 })
  const { page } = await consolePage(t)
  await page.goto(`${c.controlUrl}/`)
  await page.locator('#token').fill(VIEWER)
  await page.keyboard.press('Enter')
  await page.locator('#console').waitFor({ state: 'visible' })
  const started = Date.now()
  // the newest change (the 1,200th) sets the weight back to 3 from 2
  await page.waitForFunction(() => /weight 3 \(was 2\)/.test(document.querySelector('#events li .what')?.textContent ?? ''))
  // two pages at once, not one per poll
  t.ok(Date.now() - started < 1500, `caught up in ${Date.now() - started} ms (the poll interval is 2 s: waiting one would fail this)`)
})
