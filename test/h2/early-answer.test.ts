// An h2 client's upload that the node answers before it has read it all (an auth failure,
// a validation error): the client gets the answer, the rest of its body goes nowhere, and
// nothing of the node's side stays open behind it.
import http from 'node:http'
import http2 from 'node:http2'
import type { Socket } from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { startH2Upstream } from '../helpers/h2.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

/** POST with part of a body, the rest once the answer has ended; resolves with the status, body and the stream's close code. */
function earlyAnswered(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string; rstCode: number | undefined }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path })
    let status = 0
    let body = ''
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('error', () => undefined)
    req.on('end', () => {
      // the client goes on with its body after the answer, as a real one does
      if (!req.destroyed) req.end('the rest')
    })
    req.on('close', () => resolve({ status, body, rstCode: req.rstCode }))
    req.write('the start of it, ')
  })
}

t.test('a node on HTTP/1.1 answering before the body is whole: its connection is not kept half-used', async (t) => {
  const sockets = new Set<Socket>()
  const node = http.createServer((_req, res) => res.end('denied early'))
  node.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(node.address() as { port: number }).port}`
  const c = await startTestCutover({ x: [url], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    node.closeAllConnections()
    await new Promise((r) => node.close(r))
  })
  for (let i = 0; i < 5; i++) {
    const r = await earlyAnswered(session, `/upload/${i}`)
    t.equal(r.status, 200, `answer ${i}`)
    t.equal(r.body, 'denied early')
  }
  await waitUntil('no node connection left open behind the answers', () => sockets.size === 0, 5000)
  t.equal(await metricValue(c, 'cutover_requests_in_flight{pool="x"}'), 0)
})

t.test('a node on h2 answering before the body is whole: its stream is closed', async (t) => {
  let open = 0
  const up = await startH2Upstream('x1', (stream) => {
    open++
    stream.on('close', () => open--)
    stream.respond({ ':status': 200 })
    stream.end('denied early')
  })
  const c = await startTestCutover({ x: [`{ url: http://127.0.0.1:${up.port}, h2: "${up.h2}" }`], y: [] })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.proxyAddress.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  for (let i = 0; i < 5; i++) {
    const r = await earlyAnswered(session, `/upload/${i}`)
    t.equal(r.status, 200, `answer ${i}`)
    t.equal(r.body, 'denied early')
  }
  await waitUntil("the node's streams are closed", () => open === 0, 5000)
})
