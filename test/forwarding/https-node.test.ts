/**
 * A pool node on https:// with a private CA, end to end on the real process: cutover trusts
 * the CA the way Node does (`NODE_EXTRA_CA_CERTS`, beside the system's CAs; the config has
 * no CA key), so requests to a node whose certificate that CA signed succeed; a node whose
 * certificate another CA signed is never sent the request, the client gets the documented
 * 502 and the attempt counts as the node's `connect` failure.
 */

import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { issueCert, makeCa } from '../helpers/ca.js'
import { tempDir } from '../helpers/cutover.js'
import { run, yaml, type Running } from '../helpers/process.js'
import { waitUntil } from '../helpers/wait.js'

interface HttpsNode {
  url: string
  /** requests it received */
  seen: number
  close(): Promise<void>
}

async function startHttpsNode(name: string, pem: { cert: string; key: string }): Promise<HttpsNode> {
  const node: HttpsNode = { url: '', seen: 0, close: () => Promise.resolve() }
  const server: Server = createServer({ cert: pem.cert, key: pem.key }, (req, res) => {
    node.seen++
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-node': name })
      res.end(`${name} saw ${req.method} ${req.url} (forwarded proto ${req.headers['x-forwarded-proto']})`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  node.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  node.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return node
}

async function stop(c: Running): Promise<void> {
  if (c.child.exitCode !== null) return
  c.child.kill('SIGTERM')
  await c.exited
}

/** The sum of the series on /metrics whose line starts with prefix (name and labels). */
async function series(c: Running, prefix: string): Promise<number> {
  const text = await (await fetch(`${c.controlUrl}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

t.test('an https node: trusted through a private CA it answers; signed by another CA it is a connect failure', async (t) => {
  const dir = tempDir()
  const trusted = makeCa(dir, 'private-ca')
  const stranger = makeCa(dir, 'other-ca')
  const good = await startHttpsNode('kong-good', issueCert(dir, trusted, 'kong-good'))
  const bad = await startHttpsNode('kong-bad', issueCert(dir, stranger, 'kong-bad'))
  t.teardown(() => Promise.all([good.close(), bad.close()]).then(() => undefined))
  // read by the cutover process at its start (process.ts spawns it with this process's env)
  process.env.NODE_EXTRA_CA_CERTS = trusted.certFile

  t.test('a node whose certificate the trusted CA signed', async (t) => {
    const config = join(dir, 'good.yaml')
    writeFileSync(config, yaml(join(dir, 'good'), [`{ url: "${good.url}", name: kong-good }`], []))
    const c = await run(config)
    t.teardown(() => stop(c))
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${c.proxyUrl}/orders?page=${i}`)
      t.equal(res.status, 200)
      t.equal(res.headers.get('x-node'), 'kong-good')
      t.equal(await res.text(), `kong-good saw GET /orders?page=${i} (forwarded proto http)`)
    }
    const post = await fetch(`${c.proxyUrl}/orders`, { method: 'POST', body: 'x'.repeat(100_000) })
    t.equal(post.status, 200)
    t.match(await post.text(), /saw POST \/orders/)
    t.equal(good.seen, 4, 'every request reached the node over TLS')
    t.equal(await series(c, 'cutover_upstream_errors_total{'), 0, 'no attempt failed')
  })

  t.test('a node whose certificate another CA signed', async (t) => {
    const config = join(dir, 'bad.yaml')
    writeFileSync(config, yaml(join(dir, 'bad'), [`{ url: "${bad.url}", name: kong-bad }`], []))
    const c = await run(config)
    t.teardown(() => stop(c))
    const res = await fetch(`${c.proxyUrl}/orders`)
    t.equal(res.status, 502)
    t.same(await res.json(), { message: 'upstream failed' })
    t.equal(bad.seen, 0, 'the request never went to a node cutover could not verify')
    const connect = 'cutover_upstream_errors_total{pool="x",node="kong-bad",kind="connect"}'
    const failures = await waitUntil('the connect failure on /metrics', async () => (await series(c, connect)) || undefined, 5000)
    t.ok(failures >= 1, `counted as the node's connect failure (${failures})`)
  })
})
