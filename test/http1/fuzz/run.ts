/**
 * One differential run: generate cases from a seed, parse each with llhttp and with
 * cutover's codec (whole, then as split pieces), judge, and count. Shared by the CI test
 * (test/http1/differential.test.ts) and `npm run fuzz` (scripts/fuzz.mjs).
 */
import { cutover } from './adapter.js'
import { generate } from './generator.js'
import type { Case } from './generator.js'
import type { Vector } from './corpus/smuggling.js'
import { oracle } from './llhttp-oracle.js'
import { FAILING, judge } from './stream.js'
import type { Judgement, Verdict } from './stream.js'

/** The head limit both parsers get (cutover's proxy.max_header_size is a setting too). */
export const MAX_HEAD_SIZE = 4096

export interface Failure {
  id: string
  mode: Case['mode']
  tags: string[]
  verdict: Verdict
  detail: string
  /** the exact bytes, latin1 in a JSON string */
  bytes: string
  splits?: number[]
  requestMethods?: string[]
}

export interface Summary {
  seed: number
  cases: number
  counts: Record<Verdict, number>
  /** why cutover was stricter, by its refusal reason (the codec's static strings) */
  stricter: Map<string, number>
  failures: Failure[]
  /** verdicts per mutation class: which classes reach which outcomes */
  byTag: Map<string, Record<Verdict, number>>
  ms: number
}

/** Judge one case: whole bytes first, then the same bytes in pieces (must say the same). */
export function judgeCase(c: Pick<Case, 'mode' | 'bytes' | 'requestMethods' | 'splits'>, maxHeadSize = MAX_HEAD_SIZE): Judgement {
  const j = judgeExactly(c, maxHeadSize)
  if (!FAILING.has(j.verdict) || !OLD_LLHTTP) return j
  // the same bytes with what newer llhttp fixed taken out: if they agree, it was the quirk
  const fixed = Buffer.from(c.bytes.toString('latin1').replace(LLHTTP_QUIRKS, '$1\r\n'), 'latin1')
  if (fixed.equals(c.bytes)) return j
  const again = judgeExactly({ ...c, bytes: fixed, splits: [] }, maxHeadSize)
  return FAILING.has(again.verdict) ? j : { verdict: 'llhttp-quirk', detail: `llhttp ${process.versions.llhttp}: ${j.detail}` }
}

/**
 * llhttp before 9.4 (Node 20) reads a HTAB after a Content-Length or (Proxy-)Connection value as
 * part of it: it refuses `Content-Length: 5<HTAB>` and misses `Connection: close<HTAB>`;
 * 9.4 (Node 24) trims it like cutover does (OWS, RFC 9110 5.5). Only those two fields:
 * `Transfer-Encoding: chunked<HTAB>` is refused by every llhttp, so cutover must refuse it.
 */
const LLHTTP_QUIRKS = /^((?:content-length|(?:proxy-)?connection):[^\r\n]*?)[ \t]*\t[ \t]*\r\n/gim
const [llMajor, llMinor] = (process.versions.llhttp ?? '0.0').split('.').map(Number)
const OLD_LLHTTP = llMajor < 9 || (llMajor === 9 && llMinor < 4)

function judgeExactly(c: Pick<Case, 'mode' | 'bytes' | 'requestMethods' | 'splits'>, maxHeadSize: number): Judgement {
  const o = oracle(c.mode, c.bytes, maxHeadSize, c.requestMethods)
  const whole = judge(o, cutover(c.mode, c.bytes, maxHeadSize, c.requestMethods))
  if (FAILING.has(whole.verdict) || c.splits.length === 0) return whole
  const pieces = judge(o, cutover(c.mode, c.bytes, maxHeadSize, c.requestMethods, c.splits))
  if (pieces.verdict !== whole.verdict) {
    // the same bytes in pieces must get the same verdict; a difference the lenient way fails
    return {
      verdict: FAILING.has(pieces.verdict) ? pieces.verdict : 'MISMATCH',
      detail: `split at ${JSON.stringify(c.splits)}: ${pieces.verdict} (${pieces.detail}) where whole: ${whole.verdict} ${whole.detail}`,
    }
  }
  return whole
}

/** The reason a stricter verdict names, without offsets, for grouping. */
function stricterKey(detail: string): string {
  return detail.replace(/^message \d+( body)?: /, '').replace(/^after message -?\d+: /, '')
}

export function emptyCounts(): Record<Verdict, number> {
  return { agree: 0, 'both-refused': 0, stricter: 0, waiting: 0, 'server-level': 0, 'llhttp-quirk': 0, LENIENT: 0, MISMATCH: 0 }
}

/** Run `cases` generated cases from `seed`. */
export function runSeed(seed: number, cases: number, maxHeadSize = MAX_HEAD_SIZE): Summary {
  const started = performance.now()
  const counts = emptyCounts()
  const stricter = new Map<string, number>()
  const failures: Failure[] = []
  const byTag = new Map<string, Record<Verdict, number>>()
  for (let i = 0; i < cases; i++) {
    const c = generate(seed, i, { maxHeadSize })
    let j: Judgement
    try {
      j = judgeCase(c, maxHeadSize)
    } catch (err) {
      // a codec that throws on hostile bytes is a bug as bad as a lenient one
      j = { verdict: 'MISMATCH', detail: `threw: ${(err as Error).stack ?? err}` }
    }
    counts[j.verdict]++
    for (const tag of c.tags) {
      let row = byTag.get(tag)
      if (!row) byTag.set(tag, (row = emptyCounts()))
      row[j.verdict]++
    }
    if (j.verdict === 'stricter') {
      const key = stricterKey(j.detail)
      stricter.set(key, (stricter.get(key) ?? 0) + 1)
    }
    if (FAILING.has(j.verdict)) {
      failures.push({
        id: c.id,
        mode: c.mode,
        tags: c.tags,
        verdict: j.verdict,
        detail: j.detail,
        bytes: c.bytes.toString('latin1'),
        splits: c.splits.length ? c.splits : undefined,
        requestMethods: c.mode === 'response' ? c.requestMethods : undefined,
      })
    }
  }
  return { seed, cases, counts, stricter, failures, byTag, ms: performance.now() - started }
}

/** One line per mutation class: how its cases were judged. */
export function formatByTag(s: Summary): string {
  const cols: Verdict[] = ['agree', 'both-refused', 'stricter', 'waiting', 'server-level', 'llhttp-quirk', 'LENIENT', 'MISMATCH']
  const lines = [`${'class'.padEnd(22)}${cols.map((c) => c.padStart(13)).join('')}`]
  for (const [tag, row] of [...s.byTag].sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`${tag.padEnd(22)}${cols.map((c) => String(row[c]).padStart(13)).join('')}`)
  return lines.join('\n')
}

/** Bytes as a JSON string with every byte outside printable ASCII escaped (DEL, latin1). */
export function showBytes(latin1: string): string {
  return JSON.stringify(latin1).replace(/[\x7f-\xff]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)
}

/** A few lines for people: the counts, the stricter reasons, the first failures. */
export function formatSummary(s: Summary, showFailures = 10): string {
  const c = s.counts
  const lines = [
    `seed ${s.seed}: ${s.cases} cases in ${(s.ms / 1000).toFixed(1)} s`,
    `  agree ${c.agree} | both refused ${c['both-refused']} | stricter ${c.stricter} | waiting ${c.waiting} | server-level ${c['server-level']} | llhttp-quirk ${c['llhttp-quirk']} | DISAGREE ${c.LENIENT + c.MISMATCH} (lenient ${c.LENIENT}, mismatch ${c.MISMATCH})`,
  ]
  if (s.stricter.size > 0) {
    lines.push("  stricter than llhttp, by cutover's reason:")
    for (const [reason, n] of [...s.stricter].sort((a, b) => b[1] - a[1])) lines.push(`    ${String(n).padStart(5)}  ${reason}`)
  }
  for (const f of s.failures.slice(0, showFailures)) lines.push(`  ${f.verdict} ${f.id} [${f.tags.join(',')}]: ${f.detail}\n    bytes: ${showBytes(f.bytes)}`)
  if (s.failures.length > showFailures) lines.push(`  ... and ${s.failures.length - showFailures} more`)
  return lines.join('\n')
}

/** Every offset: the vector arrives one byte at a time. */
function everyByte(length: number): number[] {
  return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)
}

/**
 * Check one fixed vector: never lenient against llhttp (whole and byte by byte), and for a
 * `refuse` vector, cutover refuses the message at `at` before completing it.
 */
export function checkVector(v: Vector, maxHeadSize = MAX_HEAD_SIZE): { ok: boolean; detail: string } {
  const bytes = Buffer.from(v.bytes, 'latin1')
  const requestMethods = v.requestMethods ?? ['GET']
  const j = judgeCase({ mode: v.mode, bytes, requestMethods, splits: everyByte(bytes.length) }, maxHeadSize)
  if (FAILING.has(j.verdict)) return { ok: false, detail: `${j.verdict}: ${j.detail}` }
  if (v.expect === 'refuse') {
    const c = cutover(v.mode, bytes, maxHeadSize, requestMethods)
    const at = v.at ?? 0
    const completed = c.messages.filter((m) => m.complete).length
    if (c.end.kind !== 'refused' || completed > at) {
      return { ok: false, detail: `cutover did not refuse message ${at}: ${completed} complete, ended ${c.end.kind} (llhttp vs cutover: ${j.verdict} ${j.detail})` }
    }
    return { ok: true, detail: `${j.verdict}: ${c.end.status} ${c.end.reason}` }
  }
  return { ok: true, detail: `${j.verdict} ${j.detail}` }
}
