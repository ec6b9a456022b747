import t from 'tap'
import { startUpstream } from '../../bench/upstream.mjs'

t.test('the fixed upstream answers its four routes on every port', async (t) => {
  const upstream = await startUpstream(3)
  t.teardown(() => upstream.close())
  t.equal(upstream.ports.length, 3)
  const base = `http://127.0.0.1:${upstream.ports[2]}`
  const small = await fetch(`${base}/`)
  t.equal((await small.arrayBuffer()).byteLength, 100)
  const large = await fetch(`${base}/64k`)
  t.equal((await large.arrayBuffer()).byteLength, 65536)
  const post = await fetch(`${base}/`, { method: 'POST', body: new Uint8Array(1 << 20) })
  t.equal(post.status, 200)
  t.equal((await post.arrayBuffer()).byteLength, 100)
  const ready = await fetch(`${base}/status/ready`)
  t.equal(ready.status, 200)
  await ready.arrayBuffer()
})
