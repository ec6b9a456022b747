// A reload that removes a node lets the h2 streams it is answering (over its HTTP/1.1 url)
// finish, as the HTTP/1.1 engine's requests do. The node's agent was destroyed at once: the
// answer in flight was cut, read as a reset before any response byte, and the GET sent
// again to another node (the node got it, so it ran twice; a POST was lost with a 502).
import http2 from 'node:http2'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { startTestCutover, testConfigYaml } from '../helpers/cutover.js'
import { h2Request } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

t.test('a reload removing a node lets its h2 streams in flight finish there, sent once', async (t) => {
  let answer: (() => void) | undefined
  const leaving = await startUpstream('leaving', (req, res) => {
    req.resume()
    answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`answer of ${req.method} ${req.url}`)
    }
  })
  const staying = await startUpstream('staying')
  const options = { x: [leaving.url], y: [], proxy: '  h2c_listen: 127.0.0.1:0' }
  const c = await startTestCutover(options)
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  session.on('error', () => undefined)
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    await Promise.all([leaving.close(), staying.close()])
  })

  for (const method of ['GET', 'POST']) {
    answer = undefined
    const reply = h2Request(session, { ':method': method, ':path': `/${method}` }, method === 'POST' ? 'body' : undefined)
    await waitUntil('the node has the request', () => answer !== undefined, 5000)
    // the node leaves the config while its answer is on the way
    const without = parseConfig(testConfigYaml({ ...options, x: [staying.url] }, c.stateDir), { source: 'test' })
    await c.cutover.reload(without)
    answer!()
    const r = await reply
    t.equal(r.status, 200, `${method}: the removed node's answer`)
    t.equal(r.body, `answer of ${method} /${method}`)
    t.same(
      staying.seen.map((s) => s.url),
      [],
      `${method}: never sent to another node`,
    )
    // and then the removed node's connection closes: it is not kept for more
    await waitUntil("the removed node's connection closed", () => new Promise<boolean>((resolve) => leaving.server.getConnections((_err, n) => resolve(n === 0))), 5000)
    // back for the next round
    await c.cutover.reload(parseConfig(testConfigYaml(options, c.stateDir), { source: 'test' }))
  }
  t.equal(leaving.seen.length, 2, 'each request reached the node once')
})
