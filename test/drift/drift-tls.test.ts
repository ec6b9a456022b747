/**
 * Kong's status listener over TLS (status_listen ... ssl): drift reads configuration_hash
 * over https, per pool (its own port and path), verifying the certificate with
 * drift.tls.ca, or not at all with drift.tls.insecure; an unverifiable one is never read.
 */

import { createServer, type Server } from 'node:https'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { tlsFiles } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const A = '1f2e3d4c5b6a79881f2e3d4c5b6a7988'
const B = '9a8b7c6d5e4f30219a8b7c6d5e4f3021'
const files = tlsFiles()

/** A status listener with ssl (a throwaway certificate for 127.0.0.1): `path` answers the hash; counts failed handshakes. */
async function statusTls(path: string, hash: string): Promise<{ port: number; server: Server; refused: () => number }> {
  let refused = 0
  const server = createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (req, res) => {
    req.resume()
    if (req.url !== path) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ server: {}, configuration_hash: hash }))
  })
  server.on('tlsClientError', () => refused++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, server, refused: () => refused }
}

async function setup(t: Tap, tls?: string) {
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const sx = await statusTls('/status', A)
  const sy = await statusTls('/kong/status', B)
  const c = await startTestCutover({
    x: [x.url],
    y: [y.url],
    extra: `drift:\n  scheme: https\n  interval: 100ms\n  port: ${sx.port}\n  y: { port: ${sy.port}, path: /kong/status }\n${tls === undefined ? '' : `  tls: ${tls}\n`}`,
  })
  t.teardown(async () => {
    await c.cutover.close()
    sx.server.closeAllConnections()
    sy.server.closeAllConnections()
    await Promise.all([x.close(), y.close(), new Promise((r) => sx.server.close(r)), new Promise((r) => sy.server.close(r))])
  })
  return { c, sx, sy }
}

type Tap = Pick<typeof t, 'teardown'>

const hashes = async (c: Awaited<ReturnType<typeof startTestCutover>>) => {
  const { body } = await c.api('GET', '/v1/state')
  return [body.pools.x.nodes[0].config_hash, body.pools.y.nodes[0].config_hash]
}

const readErrors = async (c: Awaited<ReturnType<typeof startTestCutover>>) => {
  const { body } = await c.api('GET', '/v1/state')
  return [body.pools.x.nodes[0].config_hash_error, body.pools.y.nodes[0].config_hash_error]
}

t.test('https verified with drift.tls.ca; each pool at its own port and path', async (t) => {
  const { c } = await setup(t, `{ ca: ${files.cert} }`)
  const read = await waitUntil('both hashes read over https', async () => ((await hashes(c)).every((h) => h !== null) ? hashes(c) : undefined), 5000)
  t.same(read, [A, B])
  t.same(await readErrors(c), [null, null], 'no read failed')
})

t.test('drift.tls.insecure reads a certificate nobody vouches for', async (t) => {
  const { c } = await setup(t, '{ insecure: true }')
  t.same(await waitUntil('both hashes read', async () => ((await hashes(c)).every((h) => h !== null) ? hashes(c) : undefined), 5000), [A, B])
})

t.test('a certificate that does not verify is never read', async (t) => {
  // no drift.tls: verified against the system's CAs, which do not know the throwaway certificate
  const { c, sx, sy } = await setup(t)
  await waitUntil('handshakes refused on both listeners', () => sx.refused() >= 2 && sy.refused() >= 2, 5000)
  t.same(await hashes(c), [null, null])
  const errors = await waitUntil('the reason in /v1/state', async () => ((await readErrors(c)).every((e) => e !== null) ? readErrors(c) : undefined), 5000)
  for (const e of errors) t.match(e, /certificate/, 'why the read failed, per node')
})
