import t from 'tap'
import { HEADS, nsPerOp } from '../../bench/codec.mjs'
import { parseRequestHead, parseResponseHead } from '../../src/http1/index.js'

t.test('the heads the codec bench times are whole, valid heads with the fields it names', async (t) => {
  const res = parseResponseHead(Buffer.from(HEADS.response, 'latin1'), 65536, 'GET')
  t.equal(res.kind === 'head' && res.head.headers.length / 2, 5)
  const wrk = parseRequestHead(Buffer.from(HEADS.wrk, 'latin1'), 16384)
  t.equal(wrk.kind === 'head' && wrk.head.headers.length / 2, 1)
  const browser = parseRequestHead(Buffer.from(HEADS.browser, 'latin1'), 16384)
  t.equal(browser.kind === 'head' && browser.head.headers.length / 2, 11)
  t.equal(browser.kind === 'head' && browser.length, HEADS.browser.length, 'the whole head, nothing after it')
})

t.test('nsPerOp: the best run, per call', async (t) => {
  let calls = 0
  const ns = nsPerOp(
    (n: number) => {
      calls += n
    },
    { count: 1000, runs: 3 },
  )
  t.equal(calls, 200 + 3 * 1000, 'a fifth of count to warm up, then count per run')
  t.ok(Number.isFinite(ns) && ns >= 0)
})
