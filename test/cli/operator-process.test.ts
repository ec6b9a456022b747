/**
 * Issue 14 as an operator meets it, on a real process: the audit trail survives SIGKILL
 * and is read back (a corrupt line skipped with a warning), `ctl events --since` goes on
 * across the restart, a drained node stays drained; the control listener on TLS takes a
 * renewed certificate on SIGHUP.
 */

import { spawn, spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { runCtl } from '../../src/ctl/ctl.js'
import { TOKEN, tempDir } from '../helpers/cutover.js'
import { BIN as DEFAULT_BIN, api, run, yaml, type Running } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

// the compiled CLI; CUTOVER_TEST_BIN points at another build (a private one while others edit dist/)
const BIN = process.env.CUTOVER_TEST_BIN ?? DEFAULT_BIN

async function ctl(controlUrl: string, ...argv: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = []
  const code = await runCtl(argv, { out: (s) => out.push(s), err: (s) => out.push(s), env: { CUTOVER_URL: controlUrl, CUTOVER_TOKEN: TOKEN } })
  return { code, out }
}

t.test('the audit log survives SIGKILL, is read back, and ctl events --since goes on across the restart', async (t) => {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  t.teardown(() => Promise.all([x.close(), y.close()]).then(() => undefined))
  const dir = tempDir()
  const config = join(dir, 'cutover.yaml')
  writeFileSync(config, yaml(dir, [`{ url: ${x.url}, name: kong-x1 }`], [`{ url: ${y.url}, name: kong-y1 }`]))

  const first = await runBin(config)
  t.equal((await api(first, 'PUT', '/v1/split', { y: 5 })).status, 200)
  const drained = await api(first, 'PUT', '/v1/nodes/y/kong-y1', { admin: 'drain', force: true })
  t.equal(drained.status, 200, JSON.stringify(drained.body))
  const before = (await api(first, 'GET', '/v1/events')).body as Array<{ id: number; type: string }>
  const lastId = before.at(-1)!.id
  first.child.kill('SIGKILL')
  await first.exited

  const auditFile = join(dir, 'state.events.jsonl')
  const lines = readFileSync(auditFile, 'utf8').trim().split('\n')
  t.same(
    lines.map((l) => JSON.parse(l).id),
    before.map((e) => e.id),
    'every event was on disk when the process was killed',
  )
  appendFileSync(auditFile, '{"torn": \nnot an event\n')

  const second = await runBin(config)
  t.teardown(() => {
    second.child.kill('SIGTERM')
    return second.exited.then(() => undefined)
  })
  const warned = await second.waitFor(/audit log: lines that are not events were skipped/)
  t.equal(warned.skipped, 2)
  const after = (await api(second, 'GET', '/v1/events')).body as Array<{ id: number; type: string; role?: string; remote?: string }>
  t.same(
    after.slice(0, before.length).map((e) => [e.id, e.type]),
    before.map((e) => [e.id, e.type]),
    'the events before the restart, with their ids',
  )
  t.match(
    after.find((e) => e.type === 'node.admin'),
    { role: 'operator', remote: '127.0.0.1' },
  )
  const restarted = after.slice(before.length)
  t.ok(restarted.length >= 1 && restarted[0].id === lastId + 1 && restarted[0].type === 'startup', 'ids go on after the restart')
  t.match((await api(second, 'GET', '/v1/state')).body.pools.y.nodes[0], { name: 'kong-y1', admin: 'drain' }, 'the drained node is still drained')

  const since = await ctl(second.controlUrl, 'events', '--since', String(lastId - 1), '--json')
  t.equal(since.code, 0)
  t.same(since.out.map((l) => JSON.parse(l).id).slice(0, 2), [lastId, lastId + 1], 'ctl events --since spans the restart')
})

/** The process helper's run, on BIN. */
async function runBin(configPath: string): Promise<Running> {
  if (BIN === DEFAULT_BIN) return run(configPath)
  const child = spawn(process.execPath, [BIN, '--config', configPath], { env: { ...process.env, TEST_TOKEN: TOKEN } })
  // the same fields api() and the test read
  return (await follow(child, 'http')) as unknown as Running
}

function follow(child: ReturnType<typeof spawn>, scheme: 'http' | 'https') {
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr?.on('data', (d) => (stderr += d))
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line))
    } catch {
      // not a log line
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let gone = false
  void exited.then(() => (gone = true))
  const waitFor = (msg: RegExp) =>
    waitUntil(
      `log '${msg}'`,
      () => {
        if (gone) throw new Error(`exited before '${msg}': ${stderr}`)
        return logs.find((l) => msg.test(String(l.msg)))
      },
      15_000,
    )
  return waitFor(/cutover started/).then((started) => {
    const control = started.control as { port: number }
    const proxy = started.proxy as { port: number }
    return { child, logs, exited, waitFor, controlUrl: `${scheme}://127.0.0.1:${control.port}`, proxyUrl: `http://127.0.0.1:${proxy.port}` }
  })
}

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  const res = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  )
  if (res.status !== 0) throw new Error(`openssl: ${res.stderr}`)
  return { cert, key }
}

/** Two self-signed pairs and the files a config names (`live`), holding `one`; use(pair) renews them. */
function renewableCert(dir: string) {
  const one = selfSigned(dir, 'one')
  const two = selfSigned(dir, 'two')
  const live = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }
  const use = (pair: { cert: string; key: string }) => {
    writeFileSync(live.cert, readFileSync(pair.cert))
    writeFileSync(live.key, readFileSync(pair.key))
  }
  use(one)
  return { one, two, live, use }
}

/** GET over TLS trusting ca; resolves with the status and the certificate the server showed. */
function tlsGet(url: string, ca: string, token?: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: readFileSync(ca), agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? ''
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('the control listener on TLS, its certificate renewed on SIGHUP', async (t) => {
  const x = await startUpstream('x')
  t.teardown(() => x.close())
  const dir = tempDir()
  const { one, two, live, use } = renewableCert(dir)
  const config = join(dir, 'cutover.yaml')
  writeFileSync(
    config,
    yaml(dir, [x.url], []).replace(
      'control: { listen: 127.0.0.1:0, token: "${TEST_TOKEN}" }',
      `control: { listen: 127.0.0.1:0, token: "\${TEST_TOKEN}", tls: { cert: ${live.cert}, key: ${live.key} } }`,
    ),
  )
  const child = spawn(process.execPath, [BIN, '--config', config], { env: { ...process.env, TEST_TOKEN: TOKEN } })
  const c = await follow(child, 'https')
  t.teardown(() => {
    child.kill('SIGTERM')
    return c.exited.then(() => undefined)
  })
  const fp = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256
  const first = await tlsGet(`${c.controlUrl}/v1/state`, one.cert, TOKEN)
  t.same(first, { status: 200, fingerprint: fp(one.cert) })
  const plain = await fetch(c.controlUrl.replace('https:', 'http:') + '/healthz').then(
    () => 'answered',
    () => 'refused',
  )
  t.equal(plain, 'refused', 'no plain HTTP on a TLS listener')

  use(two)
  child.kill('SIGHUP')
  await c.waitFor(/config reloaded/)
  t.same(await tlsGet(`${c.controlUrl}/healthz`, two.cert), { status: 200, fingerprint: fp(two.cert) }, 'the renewed certificate, no restart')

  // ctl over TLS, a private CA trusted as the README says
  const ctlRun = spawnSync(process.execPath, [BIN, 'ctl', 'status', '--url', c.controlUrl], {
    env: { ...process.env, CUTOVER_TOKEN: TOKEN, NODE_EXTRA_CA_CERTS: two.cert },
    encoding: 'utf8',
    timeout: 20_000,
  })
  t.equal(ctlRun.status, 0, ctlRun.stderr)
  t.match(ctlRun.stdout, /split/)

  // a key that does not belong to the certificate: refused with the reason, the running one stays
  writeFileSync(live.key, readFileSync(one.key))
  child.kill('SIGHUP')
  const refused = await c.waitFor(/control TLS not reloaded/)
  t.match(refused.err, /not a usable certificate and key/)
  t.same(await tlsGet(`${c.controlUrl}/healthz`, two.cert), { status: 200, fingerprint: fp(two.cert) }, 'still the last good certificate')
})

t.test('the proxy listener on TLS, its certificate renewed on SIGHUP in every worker; a bad pair keeps the running one', async (t) => {
  const x = await startUpstream('x')
  t.teardown(() => x.close())
  const dir = tempDir()
  const { one, two, live, use } = renewableCert(dir)
  const config = join(dir, 'cutover.yaml')
  writeFileSync(config, yaml(dir, [x.url], [], '', `workers: 2, tls: { cert: ${live.cert}, key: ${live.key} }`))
  const child = spawn(process.execPath, [BIN, '--config', config], { env: { ...process.env, TEST_TOKEN: TOKEN } })
  const c = await follow(child, 'http')
  t.teardown(() => {
    child.kill('SIGTERM')
    return c.exited.then(() => undefined)
  })
  const proxyUrl = c.proxyUrl.replace('http:', 'https:')
  const fp = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256
  t.same(await tlsGet(proxyUrl, one.cert), { status: 200, fingerprint: fp(one.cert) })

  use(two)
  child.kill('SIGHUP')
  const reloaded = await c.waitFor(/config reloaded/)
  t.same(reloaded.needs_restart, [], 'new files for the same listener need no restart')
  // each worker applies the reload when its message comes: every new connection, whichever worker takes it
  await waitUntil(
    'both workers serve the renewed certificate',
    async () => {
      const seen = await Promise.all(
        Array.from({ length: 8 }, () =>
          tlsGet(proxyUrl, two.cert).then(
            (r) => r.fingerprint,
            () => '',
          ),
        ),
      )
      return seen.every((f) => f === fp(two.cert))
    },
    10_000,
  )

  writeFileSync(live.key, readFileSync(one.key))
  child.kill('SIGHUP')
  const refused = await c.waitFor(/proxy TLS not reloaded/)
  t.match(refused.err, /proxy\.tls: .* not a usable certificate and key/)
  t.same(await tlsGet(proxyUrl, two.cert), { status: 200, fingerprint: fp(two.cert) }, 'still the last good certificate')
})
