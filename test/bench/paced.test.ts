import t from 'tap'
import { completeResponse, runPaced } from '../../bench/paced.mjs'
import { startUpstream } from '../../bench/upstream.mjs'

t.test('completeResponse: content-length, chunked, partial', async (t) => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
  t.equal(completeResponse(Buffer.from(head + 'abc')), null, 'body not complete')
  t.same(completeResponse(Buffer.from(head + 'abcdeHTTP/1.1')), { status: 200, length: head.length + 5 })
  const chunked = 'HTTP/1.1 502 Bad Gateway\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
  t.same(completeResponse(Buffer.from(chunked)), { status: 502, length: chunked.length })
  t.equal(completeResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le')), null, 'head not complete')
})

t.test('runPaced holds the asked rate over every connection', async (t) => {
  const upstream = await startUpstream(1)
  t.teardown(() => upstream.close())
  let midway = false
  const r = await runPaced({
    url: `http://127.0.0.1:${upstream.ports[0]}/`,
    connections: 20,
    rate: 400,
    duration: 0.5,
    during: () => {
      midway = true
    },
  })
  t.equal(r.opened, 20)
  t.ok(midway, 'the midway hook ran')
  // 400/s for 0.5 s is 200 requests; a loaded machine may lose a few ticks at the end
  t.ok(r.responses >= 190 && r.responses <= 200, `responses ${r.responses} within 190..200`)
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 0)
  t.ok(r.p50 > 0 && r.p99 >= r.p50)
})
