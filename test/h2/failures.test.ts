// What h2 and gRPC clients see when nodes fail (issue 12), and what the gates count.
import * as grpc from '@grpc/grpc-js'
import http2 from 'node:http2'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { callUnary, echoClient, type Msg, startEchoServer } from '../helpers/grpc.js'
import { h2Request, startH2Upstream } from '../helpers/h2.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const h2node = (h2: string) => `{ url: ${h2.replace(/^h2c?:/, 'http:')}, h2: "${h2}" }`

/** A server-streaming call that must end in an error: the messages go into got, the error is returned. */
function serverStreamError(client: ReturnType<typeof echoClient>, got: number[]): Promise<grpc.ServiceError> {
  return new Promise((resolve) => {
    const call = client.serverStream({ n: 3 })
    call.on('data', (m: Msg) => got.push(m.n))
    call.on('error', resolve)
  })
}

t.test('a node that never answers: 504 for h2, UNAVAILABLE "upstream timed out" for gRPC', async (t) => {
  const up = await startH2Upstream('x1', () => {})
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0\n  request_timeout: 300ms' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    client.close()
    await c.cutover.close()
    await up.close()
  })
  const r = await h2Request(session, { ':path': '/slow' })
  t.equal(r.status, 504)
  t.same(JSON.parse(r.body), { message: 'upstream timed out' })
  const g = await callUnary(client, { n: 1 })
  t.equal(g.err?.code, grpc.status.UNAVAILABLE)
  t.equal(g.err?.details, 'upstream timed out')
  t.equal(await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="127.0.0.1:' + up.port + '",kind="timeout"}'), 2)
})

t.test('a stream the node refused (REFUSED_STREAM) is sent to another node', async (t) => {
  const refusing = await startH2Upstream('x1', (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM))
  const good = await startH2Upstream('x2')
  const c = await startTestCutover({ x: [h2node(refusing.h2), h2node(good.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0\n  retries: 2' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await Promise.all([refusing.close(), good.close()])
  })
  // each request picks one of the two at random: go on until the refusing one was picked (1 in 2^40 never)
  for (let i = 0; i < 40 && (i < 8 || refusing.seen.length === 0); i++) {
    const r = await h2Request(session, { ':path': `/r${i}` })
    t.equal(JSON.parse(r.body).upstream, 'x2')
  }
  t.ok(refusing.seen.length > 0, 'the refusing node was tried')
})

t.test('a server stream cut by its node: the gRPC client gets UNAVAILABLE after the messages it had', async (t) => {
  const up = await startH2Upstream('x1', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' })
    const msg = Buffer.from(JSON.stringify({ n: 7 }))
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg])
    // the node's connection is cut after the first message
    stream.write(frame, () => setTimeout(() => stream.session?.destroy(), 50))
  })
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    client.close()
    await c.cutover.close()
    await up.close()
  })
  const got: number[] = []
  const err = await serverStreamError(client, got)
  t.same(got, [7])
  t.equal(err.code, grpc.status.UNAVAILABLE)
  t.equal(err.details, 'upstream connection broken')
  t.equal(await metricValue(c, 'cutover_upstream_errors_total{pool="x",node="127.0.0.1:' + up.port + '",kind="reset"}'), 1)
})

t.test('gates.grpc_failures decides: UNAVAILABLE is an error by default, not when the list leaves it out', async (t) => {
  const run = async (extra: string) => {
    const y = await startEchoServer('y1', { fail: () => grpc.status.UNAVAILABLE })
    const x = await startEchoServer('x1')
    const node = (port: number) => `{ url: http://127.0.0.1:${port}, h2: "h2c://127.0.0.1:${port}" }`
    const c = await startTestCutover({ x: [node(x.port)], y: [node(y.port)], proxy: '  h2c_listen: 127.0.0.1:0', extra: `split: { y: 100 }\n${extra}` })
    const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
    try {
      await Promise.all(Array.from({ length: 20 }, () => callUnary(client, { n: 1 })))
      const { body } = await waitUntil(
        'the gate figures',
        async () => {
          const s = await c.api('GET', '/v1/state')
          return s.body.gates.y.requests >= 20 ? s : undefined
        },
        15_000,
      )
      return body.gates.y as { requests: number; errors: number }
    } finally {
      client.close()
      await c.cutover.close()
      await Promise.all([x.close(), y.close()])
    }
  }
  // action pause: a rollback would take y's traffic away before the figures are read
  const byDefault = await run('gates: { action: pause }')
  t.equal(byDefault.errors, byDefault.requests, 'every UNAVAILABLE call is an error')
  const dataLossOnly = await run('gates: { grpc_failures: [DATA_LOSS], action: pause }')
  t.equal(dataLossOnly.errors, 0, 'with grpc_failures [DATA_LOSS], UNAVAILABLE counts as a success')
})

t.test('CONNECT over HTTP/2 is refused with 405 naming the way that works; nothing reaches a node', async (t) => {
  const up = await startH2Upstream('x1')
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' })
    req.on('response', (h) => {
      resolve(Number(h[':status']))
      // a CONNECT stream stays open from the client's side until it closes it
      req.close()
    })
    req.on('error', reject)
  })
  t.equal(status, 405)
  t.equal(up.seen.length, 0)
})

t.test('a node that stops sending its answer mid-stream is cut after idle_timeout: UNAVAILABLE after the messages it had, a timeout against the node', async (t) => {
  const up = await startH2Upstream('x1', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' })
    const msg = Buffer.from(JSON.stringify({ n: 7 }))
    // one message, then nothing: neither more nor the end
    stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]))
  })
  const c = await startTestCutover({ x: [h2node(up.h2)], y: [], proxy: '  h2c_listen: 127.0.0.1:0\n  idle_timeout: 300ms' })
  const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  t.teardown(async () => {
    session.close()
    client.close()
    await c.cutover.close()
    await up.close()
  })
  const got: number[] = []
  const started = performance.now()
  const err = await serverStreamError(client, got)
  t.same(got, [7])
  t.equal(err.code, grpc.status.UNAVAILABLE)
  t.ok(performance.now() - started >= 250, 'not before idle_timeout')
  // plain h2: the stream is reset after what came
  const r = await h2Request(session, { ':path': '/stall' }).catch((e: Error) => e)
  t.ok(r instanceof Error, `the h2 stream was reset: ${r instanceof Error ? r.message : 'answered'}`)
  await waitUntil('both timeouts counted against the node', async () => (await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${up.port}",kind="timeout"}`)) === 2, 5000)
})

/** A POST on session whose body goes one byte every gapMs, stopping after sendBytes (ending the stream once all size bytes went); resolves with the answer. */
function slowH2Upload(session: http2.ClientHttp2Session, size: number, gapMs: number, sendBytes = size): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/upload', 'content-length': String(size) })
    let status = 0
    let body = ''
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => resolve({ status, body }))
    req.on('error', reject)
    let sent = 0
    const tick = setInterval(() => {
      if (req.destroyed || sent >= sendBytes) return clearInterval(tick)
      sent++
      if (sent === size) req.end('b')
      else req.write('b')
    }, gapMs)
  })
}

/** An HTTP/1.1 node that answers each request with the length of its body. */
const lengthNode = () =>
  startUpstream('x1', (req, res) => {
    let n = 0
    req.on('data', (d: Buffer) => (n += d.length))
    req.on('end', () => res.end(String(n)))
  })

/** lengthNode as x, behind a cutover with an h2c listener and these proxy lines, and an h2 session to it. */
async function lengthNodeBehindH2(test: Pick<typeof t, 'teardown'>, proxy: string) {
  const up = await lengthNode()
  const c = await startTestCutover({ x: [up.url], y: [], proxy: `  h2c_listen: 127.0.0.1:0\n${proxy}` })
  const session = http2.connect(`http://127.0.0.1:${c.cutover.h2cAddress!.port}`)
  test.teardown(async () => {
    session.close()
    await c.cutover.close()
    await up.close()
  })
  return { up, c, session }
}

t.test('an h2 upload that keeps moving may take longer than request_timeout, which counts from its end', async (t) => {
  const { session } = await lengthNodeBehindH2(t, '  request_timeout: 300ms\n  idle_timeout: 1s')
  const r = await slowH2Upload(session, 12, 100)
  t.same(r, { status: 200, body: '12' }, '1.2 s of upload with request_timeout at 300 ms: answered')
})

t.test('an h2 client that stops sending its body gets 408 after idle_timeout; the node is not blamed', async (t) => {
  const { up, c, session } = await lengthNodeBehindH2(t, '  idle_timeout: 300ms')
  const r = await slowH2Upload(session, 100, 10, 5)
  t.equal(r.status, 408)
  t.same(JSON.parse(r.body), { message: 'request body stopped arriving' })
  t.equal(await metricValue(c, `cutover_upstream_errors_total{pool="x",node="127.0.0.1:${up.port}",kind="timeout"}`), 0, 'not counted against the node')
})
