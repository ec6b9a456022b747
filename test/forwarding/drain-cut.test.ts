// An answer cut by cutover itself must read as cut. To an HTTP/1.0 client an answer read
// until the close (the node sent no length, or a chunked body cutover relays de-chunked)
// ends where the connection ends: a close with a FIN reads as its whole end, so such an
// answer is cut with a TCP reset. It was not when drain_timeout passed (every connection
// was closed with a FIN) nor when an event stream was cut because its pool lost its share:
// the client read a short answer that looked whole.
import type { IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

interface Read {
  bytes: number
  head: string
  /** how the connection ended: 'fin' (looks like the answer's end) or the error's code */
  end: string
}

/** An HTTP/1.0 GET on a raw socket */
function get10(port: number, path: string): { done: Promise<Read>; received: () => number } {
  const socket = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  let received = 0
  socket.write(`GET ${path} HTTP/1.0\r\nhost: a\r\n\r\n`)
  socket.on('data', (d: Buffer) => {
    chunks.push(d)
    received += d.length
  })
  const done = new Promise<Read>((resolve) => {
    let end = 'fin'
    socket.on('error', (err: NodeJS.ErrnoException) => (end = err.code ?? err.message))
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1')
      const i = all.indexOf('\r\n\r\n')
      resolve({ bytes: i < 0 ? 0 : all.length - i - 4, head: i < 0 ? all : all.slice(0, i), end })
    })
  })
  return { done, received: () => received }
}

/** a node that starts its answer and never ends it */
function stalling(res: ServerResponse, headers: Record<string, string>, first: string): void {
  res.writeHead(200, headers)
  res.write(first)
}

t.test('at drain_timeout an answer read until the close is cut with a reset', async (t) => {
  const node = await startUpstream('x', (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    // a chunked body (relayed de-chunked to HTTP/1.0), and one without a length
    if (req.url === '/chunked') stalling(res, {}, 'first part')
    else {
      res.useChunkedEncodingByDefault = false
      stalling(res, { connection: 'close' }, 'first part')
    }
  })
  t.teardown(() => node.close())
  const c = await startTestCutover({ x: [node.url], y: [] })
  const port = c.cutover.proxyAddress.port
  const dechunked = get10(port, '/chunked')
  const noLength = get10(port, '/no-length')
  await waitUntil('each answer begun', () => dechunked.received() > 0 && noLength.received() > 0 && node.seen.length === 2, 5000)
  await c.cutover.close()
  for (const [name, read] of [
    ['de-chunked', dechunked],
    ['without a length', noLength],
  ] as const) {
    const r = await read.done
    t.match(r.head, /^HTTP\/1\.[01] 200/, `${name}: the answer began`)
    t.not(r.end, 'fin', `${name}: not ended as if whole (${r.bytes} body bytes read)`)
  }
})

t.test('an event stream to an HTTP/1.0 client cut by a rollback is cut with a reset', async (t) => {
  const node = await startUpstream('y', (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    stalling(res, { 'content-type': 'text/event-stream' }, 'data: 1\n\n')
  })
  const x = await startUpstream('x')
  t.teardown(() => Promise.all([node.close(), x.close()]))
  const c = await startTestCutover({ x: [x.url], y: [node.url] })
  t.teardown(() => c.cutover.close())
  t.equal((await c.api('PUT', '/v1/split', { y: 100 })).status, 200)
  const events = get10(c.cutover.proxyAddress.port, '/events')
  await waitUntil('the first event', () => events.received() > 0, 5000)
  t.equal((await c.api('POST', '/v1/rollback', { reason: 'test' })).status, 200)
  const r = await events.done
  t.match(r.head, /^HTTP\/1\.[01] 200/)
  t.not(r.end, 'fin', `not ended as if whole (${r.bytes} body bytes read)`)
})
