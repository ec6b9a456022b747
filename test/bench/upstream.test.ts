import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nginxUpstreamAvailable, startNginxUpstream, startUpstream } from '../../bench/upstream.mjs'

/** the four routes every proxy in the bench forwards to, as the scenarios expect them */
async function checkRoutes(t: Test, port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}`
  const small = await fetch(`${base}/`)
  t.equal((await small.arrayBuffer()).byteLength, 100)
  const large = await fetch(`${base}/64k`)
  t.equal((await large.arrayBuffer()).byteLength, 65536)
  const post = await fetch(`${base}/`, { method: 'POST', body: new Uint8Array(1 << 20) })
  t.equal(post.status, 200)
  t.equal((await post.arrayBuffer()).byteLength, 100)
  const ready = await fetch(`${base}/status/ready`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { message: 'ready' })
}

t.test('the fixed upstream answers its four routes on every port', async (t) => {
  const upstream = await startUpstream(3)
  t.teardown(() => upstream.close())
  t.equal(upstream.ports.length, 3)
  await checkRoutes(t, upstream.ports[2])
})

t.test('nginx as the upstream answers the same four routes on every port', { skip: nginxUpstreamAvailable() ? false : 'nginx is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-upstream-'))
  const upstream = await startNginxUpstream(dir, 3)
  t.teardown(async () => {
    await upstream.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  t.equal(new Set(upstream.ports).size, 3)
  await checkRoutes(t, upstream.ports[0])
  await checkRoutes(t, upstream.ports[2])
})
