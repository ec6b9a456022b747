/// <reference lib="dom" />
/**
 * The console's shadow and drift panel (issue 13) in headless Chromium against a real
 * cutover: the totals and the top mismatch class, and each pool's configuration_hash.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import { browserSkip, consolePage } from '../helpers/console-page.js'
import { startTestCutover, TOKEN } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const kong = (name: string, status: number) => (req: IncomingMessage, res: ServerResponse) => {
  req.resume()
  res.writeHead(req.url === '/status' ? 200 : status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(req.url === '/status' ? { configuration_hash: '1f2e3d4c5b6a79881f2e3d4c5b6a7988' } : { name }))
}

t.test('the panel shows the totals, the top class and the hashes', { skip: browserSkip }, async (t) => {
  const x = await startUpstream('x', kong('same', 200))
  const y = await startUpstream('y', kong('same', 404))
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'shadow: { share: 100 }\ndrift: { interval: 100ms }\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  for (let i = 0; i < 3; i++) await fetch(`${c.proxyUrl}/orders/${100 + i}`).then((r) => r.text())
  await waitUntil('compared', async () => (await c.api('GET', '/v1/shadow')).body.totals.mismatch >= 3, 5000)
  const { page, problems } = await consolePage(t)
  await page.goto(`${c.controlUrl}/`)
  await page.locator('#token').fill(TOKEN)
  await page.keyboard.press('Enter')
  await page.locator('#shadow-panel').waitFor({ state: 'visible' })
  await page.waitForFunction(() => (document.querySelector('#shadow-classes')?.textContent ?? '') !== '')
  t.match(await page.locator('#shadow-totals').textContent(), /100% of x's requests copied to y: 0 match, 3 differ \(100.00% disagree\)/)
  t.equal(await page.locator('#shadow-classes li').first().textContent(), 'GET /orders/:id: x 200 → y 404, 3× (status 200 -> 404)')
  await page.waitForFunction(() => /x: 1f2e3d4c5b6a · y: 1f2e3d4c5b6a/.test(document.querySelector('#drift-line')?.textContent ?? ''))
  t.same(problems, [])
})

t.test('the drift line says why a node’s hash was not read', { skip: browserSkip }, async (t) => {
  const x = await startUpstream('x', kong('same', 200))
  const y = await startUpstream('y', (req, res) => {
    req.resume()
    res.writeHead(req.url === '/status' ? 503 : 200, { 'content-type': 'application/json' })
    res.end('{}')
  })
  const c = await startTestCutover({ x: [x.url], y: [y.url], extra: 'drift: { interval: 100ms }\n' })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x.close(), y.close()])
  })
  const yName = new URL(y.url).host
  const state = await waitUntil(
    'the failed read in /v1/state',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.pools.y.nodes[0].config_hash_error !== null ? body : undefined
    },
    5000,
  )
  t.equal(state.pools.y.nodes[0].config_hash_error, 'status listener answered 503')
  t.equal(state.pools.x.nodes[0].config_hash_error, null)
  const { page, problems } = await consolePage(t)
  await page.goto(`${c.controlUrl}/`)
  await page.locator('#token').fill(TOKEN)
  await page.keyboard.press('Enter')
  await page.locator('#shadow-panel').waitFor({ state: 'visible' })
  await page.waitForFunction((name) => (document.querySelector('#drift-line')?.textContent ?? '').includes(`not read: y ${name}: status listener answered 503`), yName)
  t.match(await page.locator('#drift-line').textContent(), /x: 1f2e3d4c5b6a · y: unknown/)
  t.same(problems, [])
})
