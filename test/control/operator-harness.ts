/** A real cutover in-process with the control section issue 14 adds (viewer token, token files, TLS). */

import { join } from 'node:path'
import pino from 'pino'
import { startCutover, type Cutover } from '../../src/app.js'
import { parseConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { tempDir } from '../helpers/cutover.js'

export const OPERATOR = 'operator-token-0123456789'
export const VIEWER = 'viewer-token-9876543210'

export interface OperatorCutover {
  cutover: Cutover
  config: Config
  proxyUrl: string
  controlUrl: string
  stateDir: string
  yaml: (x: string[], y: string[], more?: string) => string
  // biome-ignore lint/suspicious/noExplicitAny: API bodies of every endpoint; tests assert on their fields
  call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
}

export interface OperatorOptions {
  x: string[]
  y: string[]
  /** YAML lines under control: besides listen (default: token and viewer_token) */
  control?: string
  /** further top-level YAML */
  extra?: string
  stateDir?: string
}

export function operatorYaml(o: OperatorOptions, stateDir: string): string {
  const list = (urls: string[]) => `[${urls.join(', ')}]`
  return `proxy: { listen: 127.0.0.1:0, drain_timeout: 2s }
control:
  listen: 127.0.0.1:0
${o.control ?? `  token: ${OPERATOR}\n  viewer_token: ${VIEWER}`}
state: { path: ${join(stateDir, 'state.json')} }
pools:
  x: { nodes: ${list(o.x)} }
  y: { nodes: ${list(o.y)} }
log: { level: silent }
${o.extra ?? ''}
`
}

export async function startOperatorCutover(o: OperatorOptions): Promise<OperatorCutover> {
  const stateDir = o.stateDir ?? tempDir()
  const config = parseConfig(operatorYaml(o, stateDir), { source: 'test' })
  const cutover = await startCutover(config, { logger: pino({ level: 'silent' }) })
  const controlUrl = `http://127.0.0.1:${cutover.controlAddress.port}`
  return {
    cutover,
    config,
    proxyUrl: `http://127.0.0.1:${cutover.proxyAddress.port}`,
    controlUrl,
    stateDir,
    yaml: (x, y, more) => operatorYaml({ ...o, x, y, extra: `${o.extra ?? ''}\n${more ?? ''}` }, stateDir),
    async call(token, method, path, body) {
      const res = await fetch(`${controlUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = text ? JSON.parse(text) : null
      } catch {
        // /metrics and the console are not JSON
      }
      return { status: res.status, body: parsed }
    },
  }
}
