/** Start a real cutover in-process for integration tests, from YAML like an operator's. */

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { startCutover, type Cutover, type StartOptions } from '../../src/app.js'
import { parseConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'

export const TOKEN = 'test-token-0123456789'

export interface TestCutoverOptions {
  x: string[]
  y: string[]
  /** extra YAML appended (top-level sections other than proxy/control/state/pools) */
  extra?: string
  /** extra keys under proxy: */
  proxy?: string
  /** the `log:` section's keys (default `level: silent`) */
  log?: string
  stateDir?: string
  start?: StartOptions
}

export function testConfigYaml(options: TestCutoverOptions, stateDir: string): string {
  const list = (urls: string[]) => (urls.length ? `[${urls.join(', ')}]` : '[]')
  return `proxy:
  listen: 127.0.0.1:0
  drain_timeout: 2s
${options.proxy ?? ''}
control:
  listen: 127.0.0.1:0
  token: ${TOKEN}
state:
  path: ${join(stateDir, 'state.json')}
pools:
  x: { nodes: ${list(options.x)} }
  y: { nodes: ${list(options.y)} }
log:
  ${options.log ?? 'level: silent'}
${options.extra ?? ''}
`
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cutover-test-'))
}

/** The Kubernetes examples' Secret mount, where their config reads the operator token (control.token_file). */
export const K8S_TOKEN_FILE = '/etc/cutover-token/token'

/** A manifest's cutover config with its token file at a temp path holding TOKEN, as the mounted Secret would. */
export function withTokenFile(configText: string): string {
  const file = join(tempDir(), 'token')
  writeFileSync(file, `${TOKEN}\n`)
  return configText.replaceAll(K8S_TOKEN_FILE, file)
}

export interface TestCutover {
  cutover: Cutover
  config: Config
  proxyUrl: string
  controlUrl: string
  stateDir: string
  /** fetch on the control API with the token */
  // biome-ignore lint/suspicious/noExplicitAny: API bodies of every endpoint; tests assert on their fields
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
}

/** Parse the YAML through the real config loader and start cutover on ephemeral ports. */
export async function startTestCutover(options: TestCutoverOptions): Promise<TestCutover> {
  const stateDir = options.stateDir ?? tempDir()
  const config = parseConfig(testConfigYaml(options, stateDir), { source: 'test' })
  const cutover = await startCutover(config, { logger: pino({ level: 'silent' }), ...options.start })
  const controlUrl = `http://127.0.0.1:${cutover.controlAddress.port}`
  return {
    cutover,
    config,
    proxyUrl: `http://127.0.0.1:${cutover.proxyAddress.port}`,
    controlUrl,
    stateDir,
    async api(method, path, body) {
      const res = await fetch(`${controlUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      return { status: res.status, body: text ? JSON.parse(text) : null }
    },
  }
}
