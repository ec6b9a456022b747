import t from 'tap'
import { assertLocal, parseWrk, wrkScript } from '../../bench/load.mjs'

const REPORT = `Running 3s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms  456.00us  12.00ms   90.00%
    Req/Sec    40.12k     1.00k   42.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%    3.45ms
  120360 requests in 3.00s, 25.21MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  40120.00
Transfer/sec:      8.40MB
`

t.test('parseWrk reads counts, rate, percentiles in ms and errors', async (t) => {
  const r = parseWrk(REPORT)
  t.equal(r.responses, 120360)
  t.equal(r.seconds, 3)
  t.equal(r.rps, 40120)
  t.ok(Math.abs(r.p50 - 0.812) < 1e-9, 'us converted to ms')
  t.equal(r.p99, 3.45)
  t.equal(r.errors, 7)
  t.equal(r.non2xx, 12)
})

t.test('parseWrk: seconds as a latency unit, no error lines', async (t) => {
  const text = REPORT.replace('99%    3.45ms', '99%    1.20s').replace(/  Socket errors.*\n  Non-2xx.*\n/, '')
  const r = parseWrk(text)
  t.equal(r.p99, 1200)
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 0)
})

t.test('parseWrk refuses what is not a wrk report', async (t) => {
  t.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'))
})

t.test('wrkScript: none for a plain GET; a body for POST; a random id per request', async (t) => {
  t.equal(wrkScript({ method: 'GET' }), null)
  const post = wrkScript({ method: 'POST', bodyBytes: 1048576 })
  t.match(post, /wrk\.method = "POST"/)
  t.match(post, /string\.rep\("x", 1048576\)/)
  const sticky = wrkScript({ headers: { 'x-consumer-id': 'c-[<id>]' } })
  t.match(sticky, /request = function\(\)/)
  t.match(sticky, /wrk\.headers\["x-consumer-id"\] = "c-" \.\. math\.random/)
})

t.test('load never targets anything but 127.0.0.1', async (t) => {
  t.throws(() => assertLocal('http://example.com/'))
  t.throws(() => assertLocal('http://0.0.0.0:80/'))
  t.doesNotThrow(() => assertLocal('http://127.0.0.1:8080/'))
})
