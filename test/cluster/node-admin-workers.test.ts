// Issue 14 with proxy.workers: 2: a drain and a runtime weight set on the control plane
// reach the workers' routing tables (they are sent with the split and node usability).
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { request } from 'undici'
import { TOKEN, tempDir } from '../helpers/cutover.js'
import { BIN as DEFAULT_BIN, api, run, yaml, type Running } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

// the compiled CLI; CUTOVER_TEST_BIN points at another build (a private one while others edit dist/)
const BIN = process.env.CUTOVER_TEST_BIN ?? DEFAULT_BIN

async function start(config: string): Promise<Running> {
  if (BIN === DEFAULT_BIN) return run(config)
  const child = spawn(process.execPath, [BIN, '--config', config], { env: { ...process.env, TEST_TOKEN: TOKEN } })
  const logs: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l))
    } catch {
      // not a log line
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const started = await waitUntil('cutover started', () => logs.find((l) => l.msg === 'cutover started'), 20_000)
  const waitFor = (msg: RegExp) => waitUntil(`${msg}`, () => logs.find((l) => msg.test(String(l.msg))), 10_000)
  return {
    child,
    logs,
    exited,
    waitFor,
    proxyUrl: `http://127.0.0.1:${(started.proxy as { port: number }).port}`,
    controlUrl: `http://127.0.0.1:${(started.control as { port: number }).port}`,
  } as Running
}

/** Who answered n requests, each on a fresh connection so either worker may take it. */
async function answers(url: string, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const res = await request(url, { headers: { connection: 'close' }, reset: true })
    await res.body.text()
    const who = String(res.headers['x-upstream'])
    seen[who] = (seen[who] ?? 0) + 1
  }
  return seen
}

t.test('drain and a runtime weight reach every worker', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [`{ url: ${a.url}, name: a }`, `{ url: ${b.url}, name: b }`], [], '', 'workers: 2'))
  const c = await start(path)
  t.teardown(async () => {
    c.child.kill('SIGTERM')
    await c.exited
  })
  t.equal((await api(c, 'PUT', '/v1/nodes/x/a', { admin: 'drain' })).status, 200)
  // the route message is asynchronous: poll until no worker sends to a any more
  await waitUntil('a drained in both workers', async () => (await answers(c.proxyUrl, 20)).a === undefined, 10_000)
  t.same(await answers(c.proxyUrl, 40), { b: 40 }, 'a drained node gets nothing from either worker')

  t.equal((await api(c, 'PUT', '/v1/nodes/x/a', { admin: 'ready', weight: 9 })).status, 200)
  await waitUntil('a back', async () => ((await answers(c.proxyUrl, 20)).a ?? 0) > 0, 10_000)
  const seen = await answers(c.proxyUrl, 200)
  // binomial(200, 0.9): mean 180, sd 4.2; an even split (100) or config weights would be far below 160
  t.ok((seen.a ?? 0) > 160, `a at weight 9 against b at 1 got ${seen.a} of 200`)
})
