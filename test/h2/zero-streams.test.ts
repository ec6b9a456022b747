// A node whose SETTINGS allow no stream at all (SETTINGS_MAX_CONCURRENT_STREAMS 0: shutting
// down, or broken): nothing goes to it, so its streams go elsewhere at once, for any method,
// instead of waiting in nghttp2 for request_timeout (then 504, the node blamed for a timeout).
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, HEADERS, SETTINGS_MAX_CONCURRENT_STREAMS, setting, startH2Upstream, startRawH2Node } from '../helpers/h2.js'
import { metricValue } from '../helpers/wait.js'

const h2node = (h2: string) => `{ url: ${h2.replace(/^h2c?:/, 'http:')}, h2: "${h2}" }`

t.test('a node that allows no stream: its streams go elsewhere at once', async (t) => {
  let streams = 0
  const zero = await startRawH2Node(
    (_s, f) => {
      if (f.type === HEADERS) streams++
    },
    setting(SETTINGS_MAX_CONCURRENT_STREAMS, 0),
  )
  const good = await startH2Upstream('y1')
  const c = await startTestCutover({ x: [h2node(`h2c://127.0.0.1:${zero.port}`)], y: [h2node(good.h2)], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 1\n  request_timeout: 5s' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([zero.close(), good.close()])
  })
  const started = performance.now()
  const r = await h2Request(session, { ':method': 'POST', ':path': '/p' })
  const ms = performance.now() - started
  t.equal(r.status, 200, r.body)
  t.ok(ms < 2000, `answered in ${Math.round(ms)} ms`)
  t.equal(streams, 0, 'no stream went to the node')
  // a body waits for the node's side: none of it was read, so it goes elsewhere too
  const r2 = await h2Request(session, { ':method': 'POST', ':path': '/b' }, 'a body')
  t.same(JSON.parse(r2.body), { upstream: 'y1', path: '/b', method: 'POST', body: 'a body' })
  t.equal(streams, 0, 'no stream went to the node')
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${zero.port}",kind="connect"}`), 2)
})
