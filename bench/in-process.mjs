// What the time benchmarks (failover-time.mjs, rollback-time.mjs) share: cutover started in
// this process from ../dist (build with `npx tsc -p .`), a paced GET load whose schedule
// does not slow down when answers do, polling, and the text table they print.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Pool } from 'undici'
import { startCutover } from '../dist/app.js'
import { parseConfig } from '../dist/config/load.js'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Poll check every 5 ms; true once it holds, false after timeoutMs. */
export async function until(check, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) return false
    await sleep(5)
  }
  return true
}

/**
 * Start cutover on 127.0.0.1 ports of its own, with a fresh state file; `rest` is the
 * config after the listeners and the state path (pools, split, health, gates...).
 */
export async function startInProcess(name, rest) {
  const dir = mkdtempSync(join(tmpdir(), `cutover-${name}-`))
  const text = `proxy: { listen: 127.0.0.1:0, drain_timeout: 1s }
control: { listen: 127.0.0.1:0, token: bench-token-0123456789 }
state: { path: ${join(dir, 'state.json')} }
${rest}`
  const cutover = await startCutover(parseConfig(text, { source: 'bench' }), { logger: pino({ level: 'silent' }) })
  return { cutover, origin: `http://127.0.0.1:${cutover.proxyAddress.port}` }
}

/**
 * GETs at `rate` per second over at most `connections` keep-alive connections until
 * stop(). onResult(status, error, at) gets each outcome (status 0 with an error).
 * lateMs: how far the client fell behind its schedule, worst case.
 */
export function pacedGets(origin, rate, connections, onResult) {
  const pool = new Pool(origin, { connections })
  const load = { sent: 0, inflight: 0, lateMs: 0 }
  const start = performance.now()
  const one = async () => {
    load.sent++
    load.inflight++
    try {
      const res = await pool.request({ path: '/', method: 'GET' })
      await res.body.dump()
      onResult(res.statusCode, null, performance.now())
    } catch (err) {
      onResult(0, err, performance.now())
    }
    load.inflight--
  }
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000)
    load.lateMs = Math.max(load.lateMs, ((due - load.sent) * 1000) / rate)
    while (load.sent < due && load.inflight < connections) void one()
  }, 2)
  load.stop = async () => {
    clearInterval(timer)
    while (load.inflight > 0) await sleep(10)
    await pool.close()
  }
  return load
}

/** Rows of cells as aligned text columns under head; the last column unpadded. */
export function textTable(head, lines) {
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const row = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')
  return [row(head), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row)].join('\n')
}
