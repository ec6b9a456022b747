/** Polling helpers for the end-to-end tests: real time, bounded, never a bare sleep in an assertion. */

import type { TestCutover } from './cutover.js'

/** Resolve once `check` returns a value other than undefined/false, polling every `everyMs`; reject after timeoutMs. */
export async function waitUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** The value of one sample line of /metrics (exact name and label text), or undefined. */
export async function metricValue(c: TestCutover, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${c.controlUrl}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1))
  }
  return undefined
}

/** Every node of the cutover has a healthy verdict from its probes. */
export async function allNodesHealthy(c: TestCutover): Promise<boolean> {
  const { body } = await c.api('GET', '/v1/state')
  const nodes = [...body.pools.x.nodes, ...body.pools.y.nodes] as Array<{ healthy: boolean | null; ejected: boolean }>
  return nodes.every((n) => n.healthy === true && !n.ejected)
}
