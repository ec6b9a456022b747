/**
 * `npm run fuzz` (through scripts/fuzz.mjs): many more generated cases than CI runs, one
 * case replayed, or any bytes judged. Exit status 1 on any disagreement.
 *
 *   npm run fuzz -- [--seed S] [--cases N] [--max-head BYTES] [--json] [--by-tag]
 *   npm run fuzz -- --seed S --case I            replay case I of seed S, both readings
 *   npm run fuzz -- --bytes '"GET / HTTP/1.1\r\n..."' [--response [--methods HEAD,GET]]
 *   npm run fuzz -- --corpus                     the fixed vectors only
 */
import { parseArgs } from 'node:util'
import { cutover } from './adapter.js'
import { FOUND } from './corpus/found.js'
import { SMUGGLING } from './corpus/smuggling.js'
import { generate } from './generator.js'
import { oracle, oracleName } from './llhttp-oracle.js'
import { checkVector, formatByTag, formatSummary, judgeCase, MAX_HEAD_SIZE, runSeed, showBytes } from './run.js'
import type { Stream } from './stream.js'
import { FAILING } from './stream.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    cases: { type: 'string', default: '100000' },
    case: { type: 'string' },
    bytes: { type: 'string' },
    response: { type: 'boolean', default: false },
    methods: { type: 'string', default: 'GET' },
    'max-head': { type: 'string', default: String(MAX_HEAD_SIZE) },
    corpus: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'by-tag': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

function integer(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} must be a non-negative integer, got ${JSON.stringify(text)}\n`)
    process.exit(2)
  }
  return n
}

/** A stream as people read it: one line per message, then how it ended. */
function show(label: string, s: Stream): string {
  const lines = [`${label}:`]
  for (const m of s.messages) {
    const first = m.status ? `${m.status} ${JSON.stringify(m.reason)}` : `${m.method} ${JSON.stringify(m.target)}`
    lines.push(`  ${first} HTTP/${m.version} headers=${JSON.stringify(m.headers)} keepAlive=${m.keepAlive} upgrade=${m.upgrade}`)
    lines.push(`    body ${JSON.stringify(Buffer.concat(m.body).toString('latin1'))} complete=${m.complete} end=${m.end}${m.trailers.length ? ` trailers=${JSON.stringify(m.trailers)}` : ''}`)
  }
  lines.push(`  ended ${s.end.kind}${s.end.reason ? `: ${s.end.status || ''} ${s.end.reason}` : ''}`)
  return lines.join('\n')
}

function replay(mode: 'request' | 'response', bytes: Buffer, requestMethods: string[], splits: number[], maxHead: number): boolean {
  console.log(`bytes: ${showBytes(bytes.toString('latin1'))}${splits.length ? `\nsplits: ${JSON.stringify(splits)}` : ''}`)
  console.log(show(oracleName, oracle(mode, bytes, maxHead, requestMethods)))
  console.log(show('cutover', cutover(mode, bytes, maxHead, requestMethods)))
  const j = judgeCase({ mode, bytes, requestMethods, splits }, maxHead)
  console.log(`verdict: ${j.verdict}${j.detail ? ` (${j.detail})` : ''}`)
  return !FAILING.has(j.verdict)
}

function main(): number {
  if (values.help) {
    console.log('usage: npm run fuzz -- [--seed S] [--cases N] [--case I] [--bytes JSON [--response] [--methods HEAD,GET]] [--corpus] [--max-head BYTES] [--json]')
    return 0
  }
  const maxHead = integer('max-head', values['max-head'])
  if (values.bytes !== undefined) {
    const text = JSON.parse(values.bytes) as unknown
    if (typeof text !== 'string') throw new Error('--bytes takes a JSON string, e.g. \'"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"\'')
    return replay(values.response ? 'response' : 'request', Buffer.from(text, 'latin1'), values.methods.split(','), [], maxHead) ? 0 : 1
  }
  if (values.corpus) {
    let failed = 0
    for (const v of [...SMUGGLING, ...FOUND]) {
      const r = checkVector(v, maxHead)
      if (!r.ok) failed++
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${v.id} [${v.source}]: ${r.detail}${r.ok ? '' : `\n     bytes: ${showBytes(v.bytes)}`}`)
    }
    console.log(`${SMUGGLING.length + FOUND.length} vectors, ${failed} failed`)
    return failed === 0 ? 0 : 1
  }
  // a seed nobody chose, printed so the run can be repeated
  const seed = values.seed !== undefined ? integer('seed', values.seed) : Date.now() % 2 ** 31
  if (values.case !== undefined) {
    const c = generate(seed, integer('case', values.case), { maxHeadSize: maxHead })
    console.log(`case ${c.id} (${c.mode}) [${c.tags.join(',')}]`)
    return replay(c.mode, c.bytes, c.requestMethods, c.splits, maxHead) ? 0 : 1
  }
  const summary = runSeed(seed, integer('cases', values.cases), maxHead)
  console.log(`${oracleName}, max head ${maxHead} bytes`)
  console.log(formatSummary(summary, values.json ? 0 : 20))
  if (values['by-tag']) console.log(formatByTag(summary))
  if (values.json) for (const f of summary.failures) console.log(JSON.stringify(f))
  return summary.failures.length === 0 ? 0 : 1
}

process.exitCode = main()
