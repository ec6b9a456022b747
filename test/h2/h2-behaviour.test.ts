// HTTP/2 behaviour through a real cutover (issue 12): curl as a client, flow control per stream, GOAWAY on drain.
import { execFile } from 'node:child_process'
import http2 from 'node:http2'
import { promisify } from 'node:util'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { h2Request, startH2Upstream, tlsFiles } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

const run = promisify(execFile)
const h2node = (h2: string) => `{ url: ${h2.replace(/^h2c?:/, 'http:')}, h2: "${h2}" }`

async function curlHasHttp2(): Promise<boolean> {
  try {
    const { stdout } = await run('curl', ['--version'])
    return /\bHTTP2\b/.test(stdout)
  } catch {
    return false
  }
}

t.test("curl --http2-prior-knowledge (h2c) and curl --http2 (TLS, ALPN) reach the node's h2 listener, curl --http1.1 its HTTP/1.1 one", async (t) => {
  if (!(await curlHasHttp2())) {
    t.comment('curl without HTTP2 support: skipped')
    return
  }
  // a Kong-like node: proxy_listen 8000 (HTTP/1.1) and 9080 http2
  const up = await startH2Upstream('x1')
  const h1 = await startUpstream('x1-http1')
  const tls = tlsFiles()
  const c = await startTestCutover({ x: [`{ url: ${h1.url}, h2: "${up.h2}" }`], y: [], proxy: `  h2c_listen: 127.0.0.1:0\n  tls: { cert: ${tls.cert}, key: ${tls.key} }` })
  t.teardown(async () => {
    await c.cutover.close()
    await up.close()
    await h1.close()
  })
  const format = ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}']
  const h2c = await run('curl', [...format, '--http2-prior-knowledge', `http://127.0.0.1:${c.cutover.h2cAddress!.port}/c`])
  t.equal(h2c.stdout, '2 200')
  const h2 = await run('curl', [...format, '--http2', '-k', `https://127.0.0.1:${c.cutover.proxyAddress.port}/t`])
  t.equal(h2.stdout, '2 200')
  const http1 = await run('curl', [...format, '--http1.1', '-k', `https://127.0.0.1:${c.cutover.proxyAddress.port}/one`])
  t.equal(http1.stdout, '1.1 200')
  t.same(
    up.seen.map((h) => h[':path']),
    ['/c', '/t'],
  )
  t.same(
    h1.seen.map((r) => r.url),
    ['/one'],
    'the HTTP/1.1 client went through the engine to the url',
  )
})

t.test('a slow client slows its own stream: the node is held back, other streams on the connection go on', async (t) => {
  let bigWritten = false
  let bigPaused = false
  const up = await startH2Upstream('x1', (stream, headers) => {
    if (headers[':path'] !== '/big') {
      stream.respond({ ':status': 200 })
      stream.end('small')
      return
    }
    stream.respond({ ':status': 200 })
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let sent = 0
    const pump = () => {
      while (sent < 16 * 1024 * 1024) {
        sent += chunk.length
        if (!stream.write(chunk)) {
          bigPaused = true
          stream.once('drain', pump)
          return
        }
      }
      bigWritten = true
      stream.end()
    }
    pump()
  })
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.destroy()
    await c.cutover.close()
    await up.close()
  })
  const big = session.request({ ':path': '/big' })
  let received = 0
  big.on('data', (d: Buffer) => {
    received += d.length
    // read the first bytes, then stop reading: a client that cannot keep up
    if (received > 0) big.pause()
  })
  big.on('error', () => {})
  await waitUntil('the node to be held back by flow control', () => bigPaused, 5000)
  const small = await h2Request(session, { ':path': '/small' })
  t.equal(small.body, 'small', 'another stream of the same connection is answered')
  t.equal(bigWritten, false, 'the node could not write the 16 MB: cutover did not buffer it')
  t.ok(received < 4 * 1024 * 1024, `the client got ${received} bytes of 16 MB`)
  big.close()
})

t.test('drain: GOAWAY to h2 clients, the stream in flight finishes, then cutover stops', async (t) => {
  const up = await startH2Upstream('x1', (stream) => {
    setTimeout(() => {
      stream.respond({ ':status': 200 })
      stream.end('late')
    }, 300)
  })
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.destroy()
    await up.close()
  })
  let goaway: number | undefined
  session.on('goaway', (code) => (goaway = code))
  session.on('error', () => {})
  const inflight = h2Request(session, { ':path': '/slow' })
  await waitUntil('the request at the node', () => up.seen.length === 1, 3000)
  const closed = c.cutover.close()
  await waitUntil('a GOAWAY', () => goaway !== undefined, 3000)
  t.equal(goaway, http2.constants.NGHTTP2_NO_ERROR)
  const r = await inflight
  t.equal(r.body, 'late', 'the stream in flight got its whole answer')
  await closed
  t.pass('cutover stopped once the stream was done')
})
