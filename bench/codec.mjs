// `node bench/codec.mjs [--dist DIR]`: nanoseconds per head for the codec and the header
// rewriting of the data plane, in-process, no sockets: a node's answer as nginx writes it
// (five fields) parsed and rewritten for the client; wrk's request (Host only) and a
// browser's (eleven fields) parsed and rewritten for the node. Best of five runs of a
// million each, after a warm-up, so the figure is the code's, not the machine's noise.
// --dist: another build (e.g. an older commit's dist/) for a before and after in one run.
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

export const HEADS = {
  response: 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 06:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n',
  wrk: 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n',
  browser:
    'GET /api/v1/orders?page=2 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n' +
    'Accept: application/json\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl\r\n' +
    'Cookie: session=0123456789abcdef; theme=dark\r\nX-Request-Id: 7f1c2a9e-3b4d-4e5f-8a6b-1c2d3e4f5a6b\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: keep-alive\r\nReferer: https://app.example.com/orders\r\n\r\n',
}

/** Best-of-`runs` nanoseconds per call of fn(n) over n = count calls, after a warm-up. */
export function nsPerOp(fn, { count = 1_000_000, runs = 5 } = {}) {
  fn(Math.ceil(count / 5))
  let best = Infinity
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint()
    fn(count)
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / count)
  }
  return best
}

async function main() {
  const { values } = parseArgs({ options: { dist: { type: 'string', default: resolve(ROOT, 'dist') }, count: { type: 'string', default: '1000000' } } })
  const count = Number(values.count)
  if (!Number.isInteger(count) || count < 1000) throw new Error(`--count ${values.count}: want a whole number of at least 1000`)
  const url = (p) => pathToFileURL(resolve(values.dist, p)).href
  const { parseRequestHead, parseResponseHead } = await import(url('http1/index.js'))
  const { clientResponseHead, upstreamRequestHead } = await import(url('forwarding/headers.js'))
  const bytes = Object.fromEntries(Object.entries(HEADS).map(([k, v]) => [k, Buffer.from(v, 'latin1')]))
  let sink = 0
  const response = (build) => (n) => {
    for (let i = 0; i < n; i++) {
      const r = parseResponseHead(bytes.response, 65536, 'GET')
      sink += build ? clientResponseHead(r.head, 0, false, false).length : r.length
    }
  }
  const request = (name, build) => (n) => {
    for (let i = 0; i < n; i++) {
      const r = parseRequestHead(bytes[name], 16384)
      sink += build ? upstreamRequestHead(r.head, '10.0.0.1', false, false, '127.0.0.1:8000').length : r.length
    }
  }
  console.log(`node ${process.version}, ${values.dist}: ns per head, best of 5 runs of ${count.toLocaleString('en-US')}`)
  for (const [label, fn] of [
    ['response (5 fields): parse', response(false)],
    ['response: parse + head for the client', response(true)],
    ["wrk's request (Host): parse", request('wrk', false)],
    ["wrk's request: parse + head for the node", request('wrk', true)],
    ["a browser's request (11 fields): parse", request('browser', false)],
    ["a browser's request: parse + head for the node", request('browser', true)],
  ]) {
    console.log(`  ${label.padEnd(48)} ${nsPerOp(fn, { count }).toFixed(0).padStart(6)}`)
  }
  if (sink === 0) throw new Error('nothing was parsed')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((err) => {
    console.error(`bench/codec.mjs: ${err.message}`)
    process.exitCode = 1
  })
}
