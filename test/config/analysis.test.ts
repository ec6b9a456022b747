import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { MINIMAL, problemsOf, valid } from './fixtures.js'

t.test('shadow, drift and analysis are absent or empty unless written', async (t) => {
  const c = valid(MINIMAL)
  t.equal(c.shadow, undefined)
  t.equal(c.drift, undefined)
  t.same(c.analysis, { queries: [], hooks: { timeout: 5000, retry: 10_000 } })
})

t.test('shadow: defaults never copy a POST; a share has two decimals', async (t) => {
  const c = valid(`${MINIMAL}shadow: { share: 12.5, ignore_fields: [id, meta.at] }\n`)
  t.equal(c.shadow?.share, 12.5)
  t.same(c.shadow?.methods, ['GET', 'HEAD', 'OPTIONS'])
  t.equal(c.shadow?.header, 'x-cutover-shadow')
  t.ok(c.shadow?.ignore_headers.includes('date'))
  t.ok(c.shadow?.ignore_headers.includes('x-kong-request-id'))
  t.same(c.shadow?.ignore_fields, ['id', 'meta.at'])
  t.equal(c.shadow?.json_max, 256 * 1024)
  const problems = problemsOf(`${MINIMAL}shadow: { share: 12.345, methods: [get], max_concurrent: 0 }\n`)
  t.match(problems.join('\n'), /shadow\.share: must be a percentage/)
  t.match(problems.join('\n'), /shadow\.methods\[0\]: expected an upper-case method/)
  t.match(problems.join('\n'), /shadow\.max_concurrent/)
  t.match(problemsOf(`${MINIMAL}shadow: { methods: [GET] }\n`).join('\n'), /shadow\.share: required/)
})

t.test('shadow.json_max: at most 1mib, as one body is parsed in one step on the event loop', async (t) => {
  t.equal(valid(`${MINIMAL}shadow: { share: 1, json_max: 1mib }\n`).shadow?.json_max, 1024 * 1024)
  t.equal(valid(`${MINIMAL}shadow: { share: 1, json_max: 0 }\n`).shadow?.json_max, 0)
  t.match(problemsOf(`${MINIMAL}shadow: { share: 1, json_max: 1gib }\n`).join('\n'), /shadow\.json_max: must be at most 1mib .*got 1073741824/)
  t.match(problemsOf(`${MINIMAL}shadow: { share: 1, json_max: 1048577 }\n`).join('\n'), /shadow\.json_max: must be at most 1mib/)
})

t.test('drift: defaults; the action is one of pause, rollback, none', async (t) => {
  const c = valid(`${MINIMAL}drift: { port: 8100 }\n`)
  t.same(c.drift, { scheme: 'http', port: 8100, path: '/status', interval: 5000, timeout: 1000, action: 'pause' })
  t.match(problemsOf(`${MINIMAL}drift: { action: ignore }\n`).join('\n'), /drift\.action: must be one of pause, rollback, none/)
})

t.test('drift: a status listener over https, per pool, with a CA or insecure', async (t) => {
  const ca = join(mkdtempSync(join(tmpdir(), 'cutover-ca-')), 'ca.pem')
  writeFileSync(ca, 'a CA')
  const c = valid(`${MINIMAL}drift: { scheme: https, port: 8100, y: { port: 8101, path: /kong/status }, tls: { ca: ${ca} } }\n`)
  t.same(c.drift?.y, { port: 8101, path: '/kong/status' })
  t.same(c.drift?.tls, { ca, insecure: false })
  t.same(valid(`${MINIMAL}drift: { x: { scheme: https }, tls: { insecure: true } }\n`).drift?.tls, { insecure: true }, 'https for one pool only')
  const p = problemsOf(`${MINIMAL}drift: { scheme: https, path: status, x: { scheme: ftp, port: 0 }, tls: { ca: /nonexistent/ca.pem, insecure: true } }\n`).join('\n')
  t.match(p, /drift\.path: must start with \//)
  t.match(p, /drift\.x\.scheme: must be one of http, https/)
  t.match(p, /drift\.x\.port/)
  t.match(p, /drift\.tls\.ca: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/)
  t.match(problemsOf(`${MINIMAL}drift: { tls: { ca: ${ca}, insecure: true } }\n`).join('\n'), /drift\.tls: ca and insecure: true exclude each other/)
  t.match(problemsOf(`${MINIMAL}drift: { tls: { insecure: true } }\n`).join('\n'), /drift\.tls: is set but no status listener is read over https/)
  t.match(problemsOf(`${MINIMAL}drift: { y: { tls: 1 } }\n`).join('\n'), /drift\.y\.tls/)
})

t.test('analysis: a query needs a threshold and a Prometheus to ask; names are unique', async (t) => {
  const c = valid(
    `${MINIMAL}analysis:\n  prometheus: { url: http://127.0.0.1:9090 }\n  queries: [{ name: errs, query: 'sum(rate(x[1m]))', max: 0.1 }]\n  hooks: { before_step: http://127.0.0.1:1/hook }\n`,
  )
  t.same(c.analysis.prometheus, { url: 'http://127.0.0.1:9090/', timeout: 2000, interval: 10_000 })
  t.same(c.analysis.queries, [{ name: 'errs', query: 'sum(rate(x[1m]))', max: 0.1 }])
  t.equal(c.analysis.hooks.before_step, 'http://127.0.0.1:1/hook')
  const p = problemsOf(`${MINIMAL}analysis:\n  queries: [{ name: a, query: b }, { name: a, query: c, min: 1 }]\n  hooks: { after_hold: 'ftp://x' }\n`).join('\n')
  t.match(p, /analysis\.queries\[0\]: needs max or min/)
  t.match(p, /analysis\.queries\[1\]\.name: a is used twice/)
  t.match(p, /analysis\.prometheus: required when queries are set/)
  t.match(p, /analysis\.hooks\.after_hold: must be an http: or https: URL/)
})

t.test('gates.max_shadow_mismatch_rate is a rate', async (t) => {
  t.equal(valid(`${MINIMAL}gates: { max_shadow_mismatch_rate: 0.02 }\n`).gates.max_shadow_mismatch_rate, 0.02)
  t.match(problemsOf(`${MINIMAL}gates: { max_shadow_mismatch_rate: 2 }\n`).join('\n'), /gates\.max_shadow_mismatch_rate/)
})

t.test('cutover check prints the sections, and its output parses back to the same config', async (t) => {
  const { formatEffectiveConfig } = await import('../../src/config/print.js')
  const text = `${MINIMAL}shadow: { share: 2.5, ignore_fields: [at] }\ndrift: { port: 8100, action: rollback, scheme: https, y: { port: 8101 }, tls: { insecure: true } }\ngates: { max_shadow_mismatch_rate: 0.01 }\nanalysis:\n  prometheus: { url: http://127.0.0.1:9090 }\n  queries: [{ name: e, query: 'up', min: 1 }]\n  hooks: { after_hold: http://127.0.0.1:1/h }\n`
  const c = valid(text)
  const printed = formatEffectiveConfig(c).replace('********', 'secret-token-123')
  const again = valid(printed)
  t.same(again.shadow, c.shadow)
  t.same(again.drift, c.drift)
  t.same(again.analysis, c.analysis)
  t.equal(again.gates.max_shadow_mismatch_rate, 0.01)
})
