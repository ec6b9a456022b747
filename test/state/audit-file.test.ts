import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { AuditFile, auditPathFor, parseAuditLine } from '../../src/state/audit-file.js'
import { EventLog } from '../../src/state/events.js'
import { withActor } from '../../src/state/actor.js'
import type { Clock } from '../../src/clock.js'
import { tempDir } from '../helpers/cutover.js'

const clock = { now: () => Date.parse('2026-11-29T02:00:00Z') } as unknown as Clock

/** A logger whose lines the test can read. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) })
  return { logger, lines }
}

t.test('beside the state file', async (t) => {
  t.equal(auditPathFor('./var/cutover-state.json'), 'var/cutover-state.events.jsonl')
  t.equal(auditPathFor('/data/state'), '/data/state.events.jsonl')
})

t.test('events are lines on disk as they happen, and come back after a restart with their ids', async (t) => {
  const dir = tempDir()
  const path = join(dir, 'state.events.jsonl')
  const { logger } = capture()
  const first = new AuditFile({ path, maxBytes: 1 << 20, keep: 2, logger })
  const log1 = new EventLog(clock)
  log1.restore(first.load(1000).events)
  first.open()
  log1.setSink((e) => first.append(e))
  log1.add('startup', { cause: 'startup' })
  withActor({ role: 'operator', remote: '10.1.2.3' }, () => log1.add('split.changed', { cause: 'api', from: 0, to: 5 }))
  log1.add('node.unhealthy', { pool: 'y', node: 'b' })
  // on disk before anything is closed or synced: a kill now loses nothing
  const lines = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.same(
    lines.map((l) => [l.id, l.type]),
    [
      [1, 'startup'],
      [2, 'split.changed'],
      [3, 'node.unhealthy'],
    ],
  )
  t.match(lines[1], { role: 'operator', remote: '10.1.2.3' }, 'an API change says who and from where')
  t.notOk('role' in lines[2], 'other causes are not stamped')
  // a restart without close (as after SIGKILL)
  const second = new AuditFile({ path, maxBytes: 1 << 20, keep: 2, logger })
  const log2 = new EventLog(clock)
  log2.restore(second.load(1000).events)
  second.open()
  log2.setSink((e) => second.append(e))
  const next = log2.add('startup', { cause: 'startup' })
  t.equal(next.id, 4, 'ids go on from the last one written')
  t.same(
    log2.since(1).map((e) => e.id),
    [2, 3, 4],
    'since= works across the restart',
  )
  second.close()
  first.close()
})

t.test('a torn or foreign line is skipped with a warning; the next event starts a fresh line', async (t) => {
  const dir = tempDir()
  const path = join(dir, 'audit.jsonl')
  writeFileSync(
    path,
    `${JSON.stringify({ id: 1, at: 'x', type: 'startup' })}\nnot json\n{"id": "7", "type": "x", "at": "y"}\n${JSON.stringify({ id: 2, at: 'x', type: 'rollback' })}\n{"id": 3, "at": "x", "ty`,
  )
  const { logger, lines } = capture()
  const audit = new AuditFile({ path, maxBytes: 1 << 20, keep: 1, logger })
  const loaded = audit.load(1000)
  t.same(
    loaded.events.map((e) => e.id),
    [1, 2],
  )
  t.equal(loaded.skipped, 3)
  t.match(lines, [{ msg: /skipped/, skipped: 3, first_line: 2 }])
  audit.open()
  audit.append({ id: 3, at: 'x', type: 'startup' })
  audit.close()
  const reread = new AuditFile({ path, maxBytes: 1 << 20, keep: 1, logger }).load(1000)
  t.same(
    reread.events.map((e) => e.id),
    [1, 2, 3],
    'the torn line did not swallow the new event',
  )
  t.equal(parseAuditLine('[]'), null)
  t.equal(parseAuditLine('{"id": 0, "at": "x", "type": "y"}'), null)
})

t.test('rotation keeps at most keep + 1 files of at most max_size, and load reads across them', async (t) => {
  const dir = tempDir()
  const path = join(dir, 'audit.jsonl')
  const { logger } = capture()
  const maxBytes = 4096
  const audit = new AuditFile({ path, maxBytes, keep: 2, logger })
  audit.open()
  const log = new EventLog(clock, 10_000)
  log.setSink((e) => audit.append(e))
  for (let i = 0; i < 500; i++) log.add('split.changed', { cause: 'api', from: i, to: i + 1, reason: 'r'.repeat(40) })
  audit.close()
  const files = readdirSync(dir).sort()
  t.same(files, ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2'], 'two rotated files kept, older ones gone')
  for (const f of files) t.ok(statSync(join(dir, f)).size <= maxBytes, `${f} within max_size`)
  const loaded = new AuditFile({ path, maxBytes, keep: 2, logger }).load(1000)
  const ids = loaded.events.map((e) => e.id)
  t.equal(ids.at(-1), 500, 'the newest event is there')
  t.same(
    ids,
    Array.from({ length: ids.length }, (_, i) => ids[0] + i),
    'oldest first, none missing between the files',
  )
  t.ok(ids.length > 40 && ids.length < 500, `only what the kept files hold (${ids.length})`)
  t.same(
    new AuditFile({ path, maxBytes, keep: 2, logger }).load(10).events.map((e) => e.id),
    [491, 492, 493, 494, 495, 496, 497, 498, 499, 500],
    'a limit takes the newest',
  )
})
