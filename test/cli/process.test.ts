// The command line as an operator runs it: a real process, real signals.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { HELPER_NICE } from '../../src/helper-threads.js'
import { TOKEN, tempDir } from '../helpers/cutover.js'
import { BIN, api, run, yaml } from '../helpers/process.js'
import { closedPort, startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

t.test('check: effective config with the token masked, or one line per problem', async (t) => {
  const dir = tempDir()
  const good = join(dir, 'good.yaml')
  writeFileSync(good, yaml(dir, ['http://127.0.0.1:9'], []))
  const ok = spawnSync(process.execPath, [BIN, 'check', '--config', good], { env: { ...process.env, TEST_TOKEN: TOKEN }, encoding: 'utf8' })
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, /token: .?\*{8}/)
  t.notMatch(ok.stdout, TOKEN)
  t.match(ok.stdout, /connect_timeout: 2s/)

  const bad = join(dir, 'bad.yaml')
  writeFileSync(
    bad,
    `proxy: { listen: 127.0.0.1:0, connect_timeout: 5 }\ncontrol: { token: "\${NOPE_UNSET}" }\npools:\n  x: { nodes: [http://127.0.0.1:9, "not a url"] }\n  y: { nodes: [] }\nsplit: { y: 120 }\n`,
  )
  const no = spawnSync(process.execPath, [BIN, 'check', '--config', bad], { env: { ...process.env }, encoding: 'utf8' })
  t.equal(no.status, 1)
  const lines = no.stderr.trim().split('\n')
  t.ok(lines.length >= 4, no.stderr)
  t.match(no.stderr, /proxy\.connect_timeout/)
  t.match(no.stderr, /control\.token.*NOPE_UNSET/)
  t.match(no.stderr, /pools\.x\.nodes\[1\]/)
  t.match(no.stderr, /split\.y/)
})

t.test('a bad config exits 1 without listening', async (t) => {
  const dir = tempDir()
  const port = await closedPort()
  const path = join(dir, 'bad.yaml')
  writeFileSync(path, `proxy: { listen: 127.0.0.1:${port} }\ncontrol: { token: short }\npools:\n  x: { nodes: [http://127.0.0.1:9] }\n  y: { nodes: [] }\n`)
  const res = spawnSync(process.execPath, [BIN, '--config', path], { encoding: 'utf8', timeout: 10_000 })
  t.equal(res.status, 1)
  t.match(res.stderr, /control\.token/)
  t.equal(res.stdout.includes('cutover started'), false)
})

t.test('SIGTERM drains: the in-flight request finishes, then exit 0', async (t) => {
  const slow = await startUpstream('slow', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'x-upstream': 'slow' })
      res.end('done')
    }, 400)
  })
  t.teardown(() => slow.close())
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [slow.url], []))
  const c = await run(path)
  const inflight = request(`${c.proxyUrl}/slow`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
  // the request must be in flight at the upstream before the signal
  await waitUntil('the upstream has the request', () => slow.seen.length === 1, 5000, 5)
  c.child.kill('SIGTERM')
  const answer = await inflight
  t.same(answer, { status: 200, body: 'done' })
  t.equal(await c.exited, 0)
})

t.test("the running process keeps its event loop's thread at its priority and lowers the helper threads", { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, ['http://127.0.0.1:9'], []))
  const c = await run(path)
  t.teardown(async () => {
    c.child.kill('SIGKILL')
    await c.exited
  })
  const pid = c.child.pid!
  const nice = new Map<number, number>()
  for (const name of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${name}/stat`, 'utf8')
    nice.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
  }
  t.equal(nice.get(pid), 0, 'the event loop at 0')
  const helpers = [...nice.entries()].filter(([tid]) => tid !== pid)
  t.ok(helpers.length >= 4, `V8's helper threads are there (${helpers.length})`)
  t.ok(helpers.filter(([, n]) => n === HELPER_NICE).length >= 4, `at least V8's four at ${HELPER_NICE}: ${helpers.map(([tid, n]) => `${tid}:${n}`).join(' ')}`)
})

t.test('SIGKILL loses nothing: the split set before the kill is there after restart', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y.url]))
  const first = await run(path)
  t.equal((await api(first, 'PUT', '/v1/split', { y: 30 })).status, 200)
  first.child.kill('SIGKILL')
  await first.exited
  const second = await run(path)
  t.teardown(async () => {
    second.child.kill('SIGTERM')
    await second.exited
  })
  t.same((await api(second, 'GET', '/v1/state')).body.split, { x: 70, y: 30 })
})

t.test('SIGHUP reloads a good config and refuses a bad one', async (t) => {
  const x = await startUpstream('x1')
  const y1 = await startUpstream('y1')
  const y2 = await startUpstream('y2')
  t.teardown(() => Promise.all([x.close(), y1.close(), y2.close()]))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y1.url]))
  const c = await run(path)
  t.teardown(async () => {
    c.child.kill('SIGTERM')
    await c.exited
  })
  t.equal((await api(c, 'PUT', '/v1/split', { y: 100 })).status, 200)

  writeFileSync(path, yaml(dir, [x.url], [y2.url]))
  c.child.kill('SIGHUP')
  await c.waitFor(/config reloaded/)
  const state = await api(c, 'GET', '/v1/state')
  t.same(
    state.body.pools.y.nodes.map((n: { url: string }) => n.url),
    [y2.url],
  )
  t.same(state.body.split, { x: 0, y: 100 }, 'the live split stays')
  const r = await request(`${c.proxyUrl}/`)
  await r.body.text()
  t.equal(r.headers['x-upstream'], 'y2')

  writeFileSync(path, 'proxy: [this is not a config')
  c.child.kill('SIGHUP')
  await c.waitFor(/config reload refused/)
  const events = (await api(c, 'GET', '/v1/events')).body as Array<{ type: string }>
  t.ok(events.some((e) => e.type === 'config.reload_refused'))
  const r2 = await request(`${c.proxyUrl}/`)
  await r2.body.text()
  t.equal(r2.headers['x-upstream'], 'y2', 'the running config stays')
})
