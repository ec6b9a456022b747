/**
 * The console in headless Chromium for the browser tests: Debian's chromium driven by
 * playwright-core, one page with a 15 s default timeout whose script errors are collected.
 */

import { existsSync } from 'node:fs'
import type { Page } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = '/usr/bin/chromium'

/** The skip option of a browser test: skipped without chromium, except in CI where it must be there. */
export const browserSkip: string | false = !existsSync(CHROMIUM) && !process.env.CI ? `no ${CHROMIUM}` : false

/** A fresh page in a new headless browser, closed at the test's end; `problems` collects the page's uncaught errors. */
export async function consolePage(t: Pick<Test, 'teardown'>): Promise<{ page: Page; problems: string[] }> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const page = await (await browser.newContext()).newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  return { page, problems }
}
