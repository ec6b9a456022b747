/** cutover as a real process, the way an operator runs it: config file, signals, JSON logs. */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { TOKEN } from './cutover.js'

export const BIN = new URL('../../bin/cutover.js', import.meta.url).pathname

/** A config file's text: x and y node URLs, extra top-level YAML, extra `proxy:` keys. */
export function yaml(dir: string, x: string[], y: string[], extra = '', proxy = ''): string {
  return `proxy: { listen: 127.0.0.1:0, drain_timeout: 5s${proxy ? `, ${proxy}` : ''} }
control: { listen: 127.0.0.1:0, token: "\${TEST_TOKEN}" }
state: { path: ${join(dir, 'state.json')} }
pools:
  x: { nodes: [${x.join(', ')}] }
  y: { nodes: [${y.join(', ')}] }
${extra}`
}

export interface Running {
  child: ChildProcessWithoutNullStreams
  proxyUrl: string
  controlUrl: string
  logs: Array<Record<string, unknown>>
  exited: Promise<number | null>
  waitFor(msg: RegExp): Promise<Record<string, unknown>>
}

/** ms a started process has to log 'cutover started' before it is killed */
const START_LIMIT_MS = 30_000

/** Start the process and wait for its 'cutover started' log line; env: more environment variables. */
export async function run(configPath: string, env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, '--config', configPath], { env: { ...process.env, TEST_TOKEN: TOKEN, ...env } })
  const logs: Array<Record<string, unknown>> = []
  const waiters: Array<{ msg: RegExp; resolve: (l: Record<string, unknown>) => void }> = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    let entry: Record<string, unknown>
    try {
      entry = JSON.parse(line)
    } catch {
      return
    }
    logs.push(entry)
    for (const w of [...waiters])
      if (w.msg.test(String(entry.msg))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(entry)
      }
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const waitFor = (msg: RegExp) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = logs.find((l) => msg.test(String(l.msg)))
      if (seen) return resolve(seen)
      waiters.push({ msg, resolve })
      void exited.then((code) => reject(new Error(`exited ${code} before '${msg}': ${stderr}`)))
    })
  // a process that neither starts nor exits is killed, not left behind the test
  const startLimit = setTimeout(() => child.kill('SIGKILL'), START_LIMIT_MS)
  const started = await waitFor(/cutover started/).finally(() => clearTimeout(startLimit))
  const proxy = started.proxy as { port: number }
  const control = started.control as { port: number }
  return { child, proxyUrl: `http://127.0.0.1:${proxy.port}`, controlUrl: `http://127.0.0.1:${control.port}`, logs, exited, waitFor }
}

/** Call the control API with the test token. */
export async function api(c: Running, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.controlUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  // biome-ignore lint/suspicious/noExplicitAny: API bodies of every endpoint; tests assert on their fields
  return { status: res.status, body: (await res.json()) as any }
}
