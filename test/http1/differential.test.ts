// cutover's HTTP/1.1 codec against Node's llhttp (issue 10, point 1): wherever llhttp
// refuses, cutover refuses; wherever both accept, they agree on method, target, version,
// every header and the body's bounds and bytes. Seeded generated cases plus a fixed corpus
// of published smuggling vectors. How to read and widen it: test/http1/fuzz/README.md.
import t from 'tap'
import { SMUGGLING } from './fuzz/corpus/smuggling.js'
import { FOUND } from './fuzz/corpus/found.js'
import { generate } from './fuzz/generator.js'
import { oracle, oracleName, oracleWhole } from './fuzz/llhttp-oracle.js'
import { checkVector, formatSummary, MAX_HEAD_SIZE, runSeed, showBytes } from './fuzz/run.js'
import { FAILING, judge } from './fuzz/stream.js'
import type { Stream } from './fuzz/stream.js'

// CI runs one fixed seed so a red run is reproducible; CUTOVER_FUZZ_SEED / _CASES widen it
const SEED = Number(process.env.CUTOVER_FUZZ_SEED ?? 20261129)
const CASES = Number(process.env.CUTOVER_FUZZ_CASES ?? 3000)

const bytesOf = (s: string) => Buffer.from(s, 'latin1')

t.test('the oracle is llhttp as node:http ran it', async (t) => {
  const ok = oracle('request', bytesOf('POST /a?b HTTP/1.1\r\nHost: h\r\nX-A:  v \r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n'), MAX_HEAD_SIZE)
  t.same(
    ok.messages.map((m) => [m.method, m.target, m.version, m.headers, Buffer.concat(m.body).toString(), m.end]),
    [
      ['POST', '/a?b', '1.1', ['Host', 'h', 'X-A', 'v', 'Content-Length', '3'], 'abc', 63],
      ['GET', '/', '1.0', [], '', 81],
    ],
  )
  t.equal(ok.end.kind, 'closed', 'an HTTP/1.0 request without keep-alive ends the connection')
  const clte = oracle('request', bytesOf('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), MAX_HEAD_SIZE)
  t.equal(clte.end.kind, 'refused', 'CL+TE is refused (no lenient flags)')
  const big = oracle('request', bytesOf(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'x'.repeat(MAX_HEAD_SIZE)}\r\n\r\n`), MAX_HEAD_SIZE)
  t.equal(big.end.status, 431, 'a head over the limit is a header overflow')
  const connect = oracle('request', bytesOf('CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n'), MAX_HEAD_SIZE)
  t.equal(connect.end.kind, 'server-refused', 'CONNECT never reached a handler')
  const head = oracle('response', bytesOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'), MAX_HEAD_SIZE, ['HEAD', 'GET'])
  t.same(
    head.messages.map((m) => [m.status, m.bodyBytes, m.complete]),
    [
      [200, 0, true],
      [204, 0, true],
    ],
    'a HEAD answer has no body',
  )
  t.comment(oracleName)
})

t.test('the oracle does not depend on how the bytes are split', async (t) => {
  let differ = 0
  for (let i = 0; i < 500; i++) {
    const c = generate(SEED + 1, i, { maxHeadSize: MAX_HEAD_SIZE })
    const byteWise = oracle(c.mode, c.bytes, MAX_HEAD_SIZE, c.requestMethods)
    if (byteWise.end.kind !== 'open' && byteWise.end.kind !== 'refused') continue
    const whole = oracleWhole(c.mode, c.bytes, MAX_HEAD_SIZE, c.requestMethods)
    const refused = byteWise.end.kind === 'refused'
    if (whole.messages !== byteWise.messages.length || (whole.error !== null) !== refused) differ++
  }
  t.equal(differ, 0)
})

t.test('the judge fails a lenient or different reading', async (t) => {
  const o = oracle('request', bytesOf('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc'), MAX_HEAD_SIZE)
  t.equal(o.end.kind, 'refused')
  const accepted: Stream = {
    messages: [
      {
        method: 'POST',
        target: '/',
        status: 0,
        reason: '',
        version: '1.1',
        headers: ['Host', 'h', 'Content-Length', '+3'],
        keepAlive: true,
        upgrade: false,
        body: [bytesOf('abc')],
        bodyBytes: 3,
        trailers: [],
        complete: true,
        end: 50,
      },
    ],
    end: { kind: 'open', reason: '', status: 0, inBody: false },
  }
  t.equal(judge(o, accepted).verdict, 'LENIENT')
  t.equal(judge(o, { messages: [], end: { kind: 'refused', reason: 'malformed Content-Length', status: 400, inBody: false } }).verdict, 'both-refused')

  const good = oracle('request', bytesOf('GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n'), MAX_HEAD_SIZE)
  const renamed: Stream = { messages: good.messages.map((m) => ({ ...m, headers: ['Host', 'h', 'x-a', 'b'] })), end: good.end }
  t.equal(judge(good, renamed).verdict, 'MISMATCH', 'header names must keep their case')
  const longer: Stream = { messages: good.messages.map((m) => ({ ...m, end: m.end + 1 })), end: good.end }
  t.equal(judge(good, longer).verdict, 'MISMATCH', 'the message must end where llhttp ends it')
  t.equal(judge(good, { messages: [], end: { kind: 'refused', reason: 'no', status: 400, inBody: false } }).verdict, 'stricter')
  t.equal(judge(good, good).verdict, 'agree')
})

t.test('published smuggling vectors and past findings', async (t) => {
  for (const v of [...SMUGGLING, ...FOUND]) {
    const r = checkVector(v)
    t.ok(r.ok, `${v.id} [${v.source}]: ${r.detail}`, r.ok ? {} : { bytes: showBytes(v.bytes), mode: v.mode })
  }
})

t.test(`generated cases: seed ${SEED}, ${CASES} cases`, async (t) => {
  const summary = runSeed(SEED, CASES)
  t.comment(formatSummary(summary, 0))
  t.equal(summary.cases, CASES)
  t.ok(summary.counts.agree > CASES / 3, 'most cases are valid HTTP both accept (the generator is not all noise)')
  t.ok(summary.counts['both-refused'] > CASES / 10, 'and many are refused by both')
  if (CASES >= 3000) t.ok(summary.byTag.size >= 45, `the cases cover the mutation classes (${summary.byTag.size} seen)`)
  for (const f of summary.failures.slice(0, 20)) {
    t.fail(`${f.verdict} case ${f.id} [${f.tags.join(',')}]: ${f.detail}`, { case: JSON.stringify(f) })
  }
  t.equal(summary.failures.filter((f) => FAILING.has(f.verdict)).length, 0, `no disagreement in ${CASES} cases (seed ${SEED}); replay one: npm run fuzz -- --seed ${SEED} --case <index>`)
})
