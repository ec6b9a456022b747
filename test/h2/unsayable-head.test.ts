// A node's answer head an h2 client cannot be given (a status outside 100-599 from an
// HTTP/1.1 node, which HTTP/1.1 parsers take): the client gets cutover's 502, as for any
// protocol failure of the node, not a reset stream with no answer; the node is counted once.
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { startRawServer } from '../helpers/upstream.js'
import { metricValue } from '../helpers/wait.js'

for (const status of [600, 999]) {
  t.test(`an HTTP/1.1 node answering ${status}: 502 for the h2 client`, async (t) => {
    const node = await startRawServer((s) => s.once('data', () => s.end(`HTTP/1.1 ${status} Odd\r\ncontent-length: 2\r\n\r\nhi`)))
    const c = await startTestCutover({ x: [node.url], y: [] })
    const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
    t.teardown(async () => {
      session.close()
      await c.cutover.close()
      await node.close()
    })
    const r = await h2Request(session, { ':path': '/' })
    t.equal(r.status, 502)
    t.same(JSON.parse(r.body), { message: 'upstream failed' })
    t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${node.port}",kind="protocol"}`), 1)
    t.equal(await metricValue(c, 'cutover_requests_total{pool="x",code="5xx"}'), 1)
  })
}
