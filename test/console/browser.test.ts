/**
 * End to end in headless Chromium (Debian's package, driven by playwright-core) against a
 * real cutover with real upstreams: log in, move the split by keyboard, see the event and
 * the chart, roll back, and the error paths. Screenshots go to test-artifacts/console/.
 */

import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startTestCutover, TOKEN } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url))
const missing = !existsSync(CHROMIUM)

if (missing && process.env.CI) {
  t.fail(`Chromium not found at ${CHROMIUM}: install Debian's chromium package to run the console end-to-end test`)
} else {
  t.test('the console in headless Chromium', { skip: missing ? `no ${CHROMIUM} (install Debian's chromium; required when CI=true)` : false }, async (t) => {
    const { chromium } = await import('playwright-core')
    mkdirSync(ARTIFACTS, { recursive: true })
    const x = await startUpstream('x')
    // y answers like a healthy node until the test makes it fail, as --y-error-rate does in the demo
    let yFailing = false
    const y = await startUpstream('y', (req, res) => {
      req.resume()
      res.writeHead(yFailing ? 500 : 200, { 'content-type': 'application/json', 'x-upstream': 'y' })
      res.end(yFailing ? '{"message":"An unexpected error occurred"}' : '{"upstream":"y"}')
    })
    t.teardown(() => Promise.all([x.close(), y.close()]))
    const tc = await startTestCutover({ x: [`{ url: ${x.url}, name: kong-x1 }`], y: [`{ url: ${y.url}, name: kong-y1 }`], extra: 'gates: { window: 10s, min_requests: 20 }' })
    t.teardown(() => tc.cutover.close())

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    t.teardown(() => browser.close())
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    const page = await context.newPage()
    page.setDefaultTimeout(15_000)
    const problems: string[] = []
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('console', (msg) => {
      // the 409 and the 401 below are logged by the browser as failed resources: expected
      if (msg.type() === 'error' && !/status of (401|409)\b/.test(msg.text())) problems.push(`console: ${msg.text()}`)
    })
    const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })

    const served = await fetch(`${tc.controlUrl}/`)
    await served.arrayBuffer()
    if (served.status !== 200) {
      t.fail(`GET / on the control listener answered ${served.status}: registerConsole (src/console/console-routes.ts) is not wired into buildControlServer yet`)
      return
    }

    // load: the token prompt, nothing else
    await page.goto(`${tc.controlUrl}/`)
    await page.locator('#token').waitFor({ state: 'visible' })
    t.equal(await page.locator('#console').isVisible(), false, 'no console before the token')
    await shot('01-login')

    // log in with the keyboard
    await page.locator('#token').fill(TOKEN)
    await page.keyboard.press('Enter')
    await page.locator('#console').waitFor({ state: 'visible' })
    t.equal(await page.evaluate(() => sessionStorage.getItem('cutover.token')), TOKEN, 'token kept in the session')
    t.equal(await page.locator('#label-y').textContent(), 'y 0%')
    t.equal(await page.locator('#bar-y').evaluate((el) => (el as HTMLElement).style.width), '0%', 'split bar at y 0')
    t.same(await page.locator('#node-rows td.node').allTextContents(), ['kong-x1', 'kong-y1'], 'nodes by their configured names')
    t.same(await page.locator('#node-rows td.last-failure').allTextContents(), ['—', '—'], 'no request attempt failed yet')

    // move the slider to 30 with the keyboard, then Tab to the button and confirm
    await page.locator('#slider').focus()
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight')
    t.equal(await page.locator('#slider-out').textContent(), '30%')
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'apply', 'Tab reaches the apply button')
    await page.keyboard.press('Enter')
    await page.locator('#confirm').waitFor({ state: 'visible' })
    t.equal(await page.evaluate(() => document.activeElement?.id), 'confirm-ok', 'the dialog takes focus')
    await shot('02-confirm-split')
    await page.keyboard.press('Enter')
    await page.locator('#events li[data-type="split.changed"]').waitFor()
    await page.waitForFunction(() => document.getElementById('label-y')?.textContent === 'y 30%')
    t.equal((await tc.api('GET', '/v1/state')).body.split.y, 30, 'the API has y at 30')
    t.match(await page.locator('#result').textContent(), /Split set: y 30%/)

    // traffic through the proxy draws the request-rate chart
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${tc.proxyUrl}/item/${i}`)
      await res.arrayBuffer()
    }
    await page.waitForFunction(() => {
      const paths = document.querySelectorAll('#chart-rate path.line')
      return Array.from(paths).some((p) => Number(p.getAttribute('data-points')) > 0 && (p.getAttribute('d') ?? '').includes('L'))
    })
    t.pass('the request-rate chart draws a non-empty line')
    await shot('03-split-30-traffic')
    t.equal(await page.locator('#fleet-panel').isHidden(), true, 'no replicas panel with the file backend')

    // roll back with a reason
    await page.locator('#rollback').click()
    await page.locator('#confirm-reason').fill('console browser test')
    await page.locator('#confirm-ok').click()
    await page.locator('#lock').waitFor({ state: 'visible' })
    await page.locator('#events li[data-type="rollback"]').waitFor()
    t.match(await page.locator('#lock-reason').textContent(), /console browser test/)
    t.equal(await page.locator('#label-y').textContent(), 'y 0%')
    const after = (await tc.api('GET', '/v1/state')).body
    t.equal(after.locked, true, 'locked')
    t.equal(after.lock_reason, 'console browser test')
    t.equal(await page.locator('#apply').isDisabled(), true, 'no split change while locked')
    t.match(
      await page.locator('#events li[data-type="rollback"] .what').first().textContent(),
      /^Rolled back to x by the API( \([^)]*\))?: console browser test\. y was at 30%/,
      'events read as sentences',
    )
    t.match(await page.locator('#gate-caption').textContent(), /^No verdict: y has had no traffic since the rollback/)
    await shot('04-rolled-back')

    // narrow window: the panels stack
    await page.setViewportSize({ width: 420, height: 900 })
    const [a, b] = await Promise.all([page.locator('section.split').boundingBox(), page.locator('section.rollout').boundingBox()])
    t.ok(a && b && b.y >= a.y + a.height, 'rollout panel below the split panel')
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling')
    await shot('04-narrow')
    await page.setViewportSize({ width: 1280, height: 1000 })

    // a 409 is shown in words: unlock, then start a rollout with no plan configured
    await page.locator('#unlock').click()
    await page.locator('#events li[data-type="unlock"]').waitFor()
    await page.locator('#lock').waitFor({ state: 'hidden' })
    await page.locator('#ro-start').click()
    await page.locator('#confirm-ok').click()
    await page.waitForFunction(() => document.getElementById('result')?.getAttribute('data-kind') === 'error')
    t.match(await page.locator('#result').textContent(), /no rollout plan.*\(409\)/, 'the 409 and its message')

    // a rollout whose step has no y traffic says why it waits, in words, never "0 s left"
    const started = await tc.api('POST', '/v1/rollout', { steps: [{ y: 5, hold: '1s' }, { y: 100 }] })
    t.equal(started.status, 200, JSON.stringify(started.body))
    await page.locator('#rollout-holding').waitFor({ state: 'visible' })
    t.equal(await page.locator('#rollout-holding').textContent(), 'Not moving on yet: y has 0 of the 20 requests a step needs; y has had no requests in this step yet.')
    t.equal(await page.locator('#rollout-status').textContent(), 'Running: step 1 of 2, y 5%.')
    await page.waitForFunction(() => document.getElementById('result')?.getAttribute('data-kind') === 'none')
    t.pass('the 409 of the failed start is gone once a rollout runs: no red banner beside "Running"')
    await shot('05-rollout-waiting')
    t.equal((await tc.api('POST', '/v1/rollout/abort', { reason: 'enough waiting' })).status, 200)
    t.equal((await tc.api('POST', '/v1/unlock')).status, 200)
    await page.locator('#events li[data-type="unlock"]').nth(1).waitFor()

    // the gate at work: y starts failing, the operator moves the split, cutover rolls back by itself
    await page.locator('#result').evaluate((el) => el.removeAttribute('data-kind'))
    yFailing = true
    await page.locator('#slider').focus()
    for (let i = 0; i < 50; i++) await page.keyboard.press('ArrowRight')
    await page.locator('#apply').click()
    await page.locator('#confirm-ok').click()
    await page.waitForFunction(() => document.getElementById('label-y')?.textContent === 'y 50%')
    for (let i = 0; i < 80; i++) {
      const res = await fetch(`${tc.proxyUrl}/orders/${i}`)
      await res.arrayBuffer()
    }
    await page.locator('#events li[data-type="rollback"]').nth(1).waitFor()
    await page.locator('#lock').waitFor({ state: 'visible' })
    t.match(await page.locator('#lock-reason').textContent(), /gate max_error_rate: error_rate [\d.]+ > 0\.01 over \d+ requests/, 'the lock names the gate and its figures')
    t.equal(await page.locator('#label-y').textContent(), 'y 0%')
    const rolled = (await tc.api('GET', '/v1/events')).body as Array<{ type: string; cause: string }>
    t.equal(rolled.filter((e) => e.type === 'rollback').at(-1)?.cause, 'gate', 'the gate rolled back, not the operator')

    // the rollback view never contradicts itself: the "Split set" banner is gone, the gates
    // panel shows the failed verdict that caused the rollback, and y has no "now" figure
    await page.waitForFunction(() => document.getElementById('result')?.getAttribute('data-kind') === 'none')
    t.equal(await page.locator('#result').isVisible(), false, 'the green "Split set" banner is gone')
    t.equal(await page.locator('#verdict').textContent(), 'failed: rolled back')
    t.equal(await page.locator('#verdict').getAttribute('data-verdict'), 'fail')
    t.match(await page.locator('#gate-caption').textContent(), /^The gate rolled y back to x at \d\d:\d\d:\d\d\. Its window then:$/)
    t.match(await page.locator('#gate-checks li').first().textContent(), /^max_error_rate: fail, error_rate [\d.]+ > 0\.01/, 'the failing check, not "no verdict yet"')
    const yRow = await page.locator('#gate-figures tr').nth(1).locator('td').allTextContents()
    t.equal(yRow[0], 'y')
    t.ok(Number(yRow[1]) >= 1 && Number(yRow[2]) >= 1, `y's requests and errors at the rollback (${yRow.join(' ')})`)
    t.match(await page.locator('#events li[data-type="rollback"] .what').first().textContent(), /^The gate rolled y back to x: gate max_error_rate/)
    // x keeps its traffic; y has none, so the charts show no "now" figure for y
    let sending = true
    const xTraffic = (async () => {
      for (let i = 0; sending; i++) {
        await (await fetch(`${tc.proxyUrl}/after/${i}`)).arrayBuffer()
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    // x's figure is there (so the charts are drawn from history after the rollback), y's is not
    const nows = await page.waitForFunction(
      () => {
        const texts = ['#chart-rate .now', '#chart-errors .now', '#chart-p99 .now'].map((sel) => document.querySelector(sel)?.textContent ?? '')
        return texts.every((text) => /^x /.test(text) && !/\by /.test(text)) && texts
      },
      undefined,
      { timeout: 20_000 },
    )
    sending = false
    await xTraffic
    t.pass(`x has its "now" figures, y none: ${JSON.stringify(await nows.jsonValue())}`)
    t.match(await page.locator('#chart-rate .axis .since').textContent(), /^\d+ s ago$/, 'a short history fills the chart: it starts at the first traffic')
    await shot('06-gate-rollback')

    // a refused token returns to the prompt
    await page.evaluate(() => sessionStorage.setItem('cutover.token', 'not-the-token'))
    await page.reload()
    await page.locator('#login-error').waitFor({ state: 'visible' })
    await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '').length > 0)
    t.equal(await page.locator('#console').isVisible(), false)
    t.equal(await page.evaluate(() => sessionStorage.getItem('cutover.token')), null, 'the wrong token is forgotten')

    t.same(problems, [], 'no script errors, no CSP violations')
  })
}
