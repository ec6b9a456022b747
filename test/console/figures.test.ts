/**
 * One set of figures: the console's figures.js (browser) and src/control/figures.ts (ctl,
 * demo, event sentences) write every number the same way.
 */

import t from 'tap'
import * as server from '../../src/control/figures.js'

// a URL, not a specifier: the browser module has no .d.ts, and its types are its JSDoc
const browser = (await import(new URL('../../src/console/assets/figures.js', import.meta.url).href)) as typeof server & { requestRate: (v: number | null | undefined) => string }

const shares = [0, 0.01, 0.29, 1, 10, 12.5, 33.33, 50, 99.99, 100]
const rates = [0, 1e-17, 0.00005, 0.0011, 0.0049, 0.01, 0.0825, 0.29, 0.333333, 1, null, undefined, Number.NaN]
const latencies = [0, 0.04, 3.21, 12.55, 99.94, 100, 307.4, 1234.5, null, undefined, Number.POSITIVE_INFINITY]
const durations = [0, 1, 999, 1000, 1001, 8000, 59_999, 60_000, 90_000, 3_600_000, 3_720_000, 7_200_000]

t.test('the browser and the server write the same text for the same number', async (t) => {
  for (const v of shares) t.equal(browser.share(v), server.share(v), `share ${v}`)
  for (const v of rates) t.equal(browser.errorRate(v), server.errorRate(v), `errorRate ${v}`)
  for (const v of latencies) t.equal(browser.latency(v), server.latency(v), `latency ${v}`)
  for (const v of durations) t.equal(browser.duration(v), server.duration(v), `duration ${v}`)
  for (const [i, of] of [
    [0, 3],
    [2, 3],
    [1, undefined],
  ] as const)
    t.equal(browser.stepOf(i, of), server.stepOf(i, of), `stepOf ${i} ${of}`)
  for (const iso of ['2026-01-01T12:00:03.120Z', 'not a time']) t.equal(browser.clockTime(iso), server.clockTime(iso), `clockTime ${iso}`)
})

t.test('how they read', async (t) => {
  t.equal(server.share(12.5), '12.5%')
  t.equal(server.errorRate(0.0825), '8.3%')
  t.equal(server.errorRate(0.0011), '0.11%')
  t.equal(server.errorRate(1e-17), '0%', 'no exponent')
  t.equal(server.errorRate(null), '-')
  t.equal(server.latency(307.4), '307 ms')
  t.equal(server.latency(3.21), '3.2 ms')
  t.equal(server.duration(0), '0 s')
  t.equal(server.duration(1001), '2 s', 'time left rounds up: never "0 s left" while some is left')
  t.equal(server.duration(90_000), '1 min 30 s')
  t.equal(server.duration(3_720_000), '1 h 2 min')
  t.equal(server.stepOf(0, 3), 'step 1 of 3')
  t.equal(browser.requestRate(45.04), '45 req/s')
  t.equal(browser.requestRate(123.4), '123 req/s')
  t.equal(browser.requestRate(null), '-')
})
