// TLS to a node's h2:// listener (issue 12), in a real cutover process: the node's certificate
// is verified like an https:// url's (Node's CA store plus NODE_EXTRA_CA_CERTS); a node whose
// certificate comes from another CA fails with an error that says so, and the stream goes on
// by the usual rules (retried elsewhere, the h2 listener ejected).
import { writeFileSync } from 'node:fs'
import http2 from 'node:http2'
import { join } from 'node:path'
import t from 'tap'
import { issueCert, makeCa } from '../helpers/ca.js'
import { tempDir } from '../helpers/cutover.js'
import { h2Request, startH2Upstream, tlsFiles } from '../helpers/h2.js'
import { api, run, yaml } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

t.test('an h2:// node with a certificate of a trusted CA serves; one of another CA fails clearly and falls back', async (t) => {
  const dir = tempDir()
  const trusted = makeCa(dir, 'ca-trusted')
  const other = makeCa(dir, 'ca-other')
  const a = await startH2Upstream('a', undefined, { tls: issueCert(dir, trusted, 'node-a') })
  const b = await startH2Upstream('b', undefined, { tls: issueCert(dir, other, 'node-b') })
  const aUrl = await startUpstream('a-url')
  const bUrl = await startUpstream('b-url')
  const tls = tlsFiles()
  const config = join(dir, 'cutover.yaml')
  const node = (name: string, url: string, port: number) => `{ name: ${name}, url: ${url}, h2: "h2://127.0.0.1:${port}" }`
  writeFileSync(
    config,
    yaml(dir, [node('a', aUrl.url, a.port), node('b', bUrl.url, b.port)], [], 'health: { passive: { max_failures: 2, eject_for: 60s } }', `tls: { cert: ${tls.cert}, key: ${tls.key} }, retries: 2`),
  )
  const c = await run(config, { NODE_EXTRA_CA_CERTS: trusted.certFile })
  const port = Number(new URL(c.proxyUrl).port)
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
  t.teardown(async () => {
    session.close()
    c.child.kill('SIGTERM')
    await c.exited
    await Promise.all([a.close(), b.close(), aUrl.close(), bUrl.close()])
  })
  const served: string[] = []
  await waitUntil(
    "b's h2 listener to be ejected",
    async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, () => h2Request(session, { ':path': '/tls' })))
      for (const r of answers) {
        t.equal(r.status, 200, 'every stream is answered')
        served.push(String(r.headers['x-upstream']))
      }
      const state = await api(c, 'GET', '/v1/state')
      return state.body.pools.x.nodes.find((n: { name: string }) => n.name === 'b')?.h2_ejected === true
    },
    15_000,
  )
  t.ok(a.seen.length > 0, "a's certificate verified against the CA in NODE_EXTRA_CA_CERTS: a served over h2://")
  t.equal(b.seen.length, 0, "no stream got past b's TLS handshake")
  t.notOk(served.includes('b'), 'nothing came from b over TLS')
  // log lines arrive through a pipe: wait for them rather than race the API's answer
  const warning = await c.waitFor(/^h2 node not trusted$/)
  t.match(warning, { level: 40, node: 'b', pool: 'x', code: 'CUTOVER_ERR_UPSTREAM_TLS' }, 'a warning names the node')
  t.match(String(warning.err), /^TLS to h2:\/\/127\.0\.0\.1:\d+: the node's certificate is not trusted \([A-Z_]+: .+\); give cutover its CA with NODE_EXTRA_CA_CERTS/)
  t.match(await c.waitFor(/^node h2 listener ejected$/), { node: 'b', listener: 'h2' }, "b's h2 listener is ejected (the node's url is not)")
  // after the ejection, b's share of h2 streams goes to its url, over HTTP/1.1
  const after = await Promise.all(Array.from({ length: 30 }, () => h2Request(session, { ':path': '/after' })))
  t.ok(
    after.every((r) => r.status === 200),
    'all answered',
  )
  t.ok(
    after.some((r) => r.headers['x-upstream'] === 'b-url'),
    "b's url takes b's share",
  )
  t.equal(b.seen.length, 0)
})
