import t from 'tap'
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FakeClock } from '../../src/clock.js'
import { isCutoverError } from '../../src/errors.js'
import { isPercent } from '../../src/config/percent.js'
import { FileStateStore, parseStateFile } from '../../src/state/store.js'
import type { LiveState, StateFile } from '../../src/state/types.js'

const START = Date.UTC(2026, 0, 1, 12, 30, 15, 250)
const rollout = {
  steps: [
    { y: 10, hold: 300_000 },
    { y: 100, hold: 0 },
  ],
  step: 0,
  status: 'running' as const,
  started_at: '2026-01-01T12:00:00.000Z',
}
const sample: LiveState = { y: 12.5, locked: true, lock_reason: 'gate: error_rate 0.083 > 0.01', rollout }

function validFile(): StateFile {
  return { version: 1, updated_at: '2026-01-01T00:00:00.000Z', split: { y: 25 }, locked: false, lock_reason: null, rollout: null }
}

t.test('load: no file is missing', async (t) => {
  const dir = t.testdir({})
  t.same(new FileStateStore(join(dir, 'state.json'), { clock: new FakeClock(START) }).load(), { kind: 'missing' })
})

t.test('save then load round-trips, in the StateFile format', async (t) => {
  const dir = t.testdir({})
  const path = join(dir, 'sub', 'deeper', 'state.json')
  const store = new FileStateStore(path, { clock: new FakeClock(START) })
  await store.save(sample)
  const raw = JSON.parse(readFileSync(path, 'utf8')) as StateFile
  t.same(raw, { version: 1, updated_at: new Date(START).toISOString(), split: { y: 12.5 }, locked: true, lock_reason: sample.lock_reason, rollout })
  t.same(store.load(), { kind: 'ok', state: sample })

  const unlocked: LiveState = { y: 0, locked: false, lock_reason: null, rollout: null }
  await store.save(unlocked)
  t.same(new FileStateStore(path, { clock: new FakeClock(START) }).load(), { kind: 'ok', state: unlocked })
})

t.test('atomic write leaves no temp files and replaces the old file', async (t) => {
  const dir = t.testdir({ 'state.json': 'old content' })
  const path = join(dir, 'state.json')
  const store = new FileStateStore(path, { clock: new FakeClock(START) })
  // several saves in a row, as the controller would issue them
  for (let y = 0; y <= 100; y += 25) await store.save({ ...sample, y })
  t.same(readdirSync(dir), ['state.json'])
  t.equal((JSON.parse(readFileSync(path, 'utf8')) as StateFile).split.y, 100)
})

t.test('a corrupt file is moved aside with the original name plus a suffix', async (t) => {
  const cases: Record<string, string> = {
    garbage: '\u0000\u0001 not json at all',
    empty: '',
    truncated: JSON.stringify(validFile()).slice(0, 40),
    'wrong version': JSON.stringify({ ...validFile(), version: 2 }),
    'y = 150': JSON.stringify({ ...validFile(), split: { y: 150 } }),
    'y with three decimals': JSON.stringify({ ...validFile(), split: { y: 1.125 } }),
    'locked as string': JSON.stringify({ ...validFile(), locked: 'yes' }),
    'bad rollout step index': JSON.stringify({ ...validFile(), rollout: { ...rollout, step: 2 } }),
    array: '[]',
  }
  for (const [name, content] of Object.entries(cases)) {
    const dir = t.testdir({ 'cutover-state.json': content })
    const path = join(dir, 'cutover-state.json')
    const result = new FileStateStore(path, { clock: new FakeClock(START) }).load()
    t.equal(result.kind, 'corrupt', name)
    if (result.kind !== 'corrupt') continue
    t.ok(result.reason.length > 0, `${name}: has a reason`)
    t.equal(result.movedTo, `${path}.corrupt-2026-01-01T12-30-15.250Z`, `${name}: moved to original name + suffix`)
    t.same(readdirSync(dir), ['cutover-state.json.corrupt-2026-01-01T12-30-15.250Z'], `${name}: the original is gone`)
    t.equal(readFileSync(result.movedTo, 'utf8'), content, `${name}: content kept`)
  }
})

t.test('two corruptions at the same instant do not overwrite each other', async (t) => {
  const dir = t.testdir({ 's.json': 'bad one' })
  const path = join(dir, 's.json')
  const store = new FileStateStore(path, { clock: new FakeClock(START) })
  const a = store.load()
  writeFileSync(path, 'bad two')
  const b = store.load()
  t.ok(a.kind === 'corrupt' && b.kind === 'corrupt')
  if (a.kind !== 'corrupt' || b.kind !== 'corrupt') return
  t.not(a.movedTo, b.movedTo)
  t.equal(readFileSync(a.movedTo, 'utf8'), 'bad one')
  t.equal(readFileSync(b.movedTo, 'utf8'), 'bad two')
})

t.test('save rejects when the parent path is a regular file (fails even for root)', async (t) => {
  const dir = t.testdir({ 'plain-file': 'x' })
  const path = join(dir, 'plain-file', 'state.json')
  const err = await new FileStateStore(path, { clock: new FakeClock(START) }).save(sample).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(isCutoverError(err, 'CUTOVER_ERR_STATE_WRITE'), 'rejects with STATE_WRITE')
  t.match((err as Error).message, path, 'message names the path')
  t.match((err as Error).message, /ENOTDIR|EEXIST/, 'message names the cause')
  t.same(readdirSync(dir), ['plain-file'])
})

t.test('save rejects when the target is a directory, and removes its temp file', async (t) => {
  const dir = t.testdir({ 'state.json': { inner: 'x' } })
  const err = await new FileStateStore(join(dir, 'state.json'), { clock: new FakeClock(START) }).save(sample).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(isCutoverError(err, 'CUTOVER_ERR_STATE_WRITE'))
  t.same(readdirSync(dir), ['state.json'], 'no temp file left behind')
})

t.test('save rejects in a read-only directory (unless running as root)', async (t) => {
  const dir = t.testdir({ ro: {} })
  const ro = join(dir, 'ro')
  chmodSync(ro, 0o500)
  let result: unknown
  try {
    result = await new FileStateStore(join(ro, 'state.json'), { clock: new FakeClock(START) }).save(sample).then(
      () => 'saved',
      (e: unknown) => e,
    )
  } finally {
    chmodSync(ro, 0o700)
  }
  if (process.getuid?.() === 0) {
    t.equal(result, 'saved', 'root ignores the mode; the regular-file test covers the failure')
  } else {
    t.ok(isCutoverError(result, 'CUTOVER_ERR_STATE_WRITE'))
    t.match((result as Error).message, /EACCES/)
  }
})

t.test('an unreadable path (a directory) is moved aside too; a taken name gets a counter', async (t) => {
  const dir = t.testdir({ 'state.json': { a: 'x' }, 'state.json.corrupt-2026-01-01T12-30-15.250Z': 'taken' })
  const path = join(dir, 'state.json')
  const r = new FileStateStore(path, { clock: new FakeClock(START) }).load()
  t.equal(r.kind, 'corrupt')
  t.ok(r.kind === 'corrupt' && r.movedTo === `${path}.corrupt-2026-01-01T12-30-15.250Z-1`)
  t.equal(readFileSync(`${path}.corrupt-2026-01-01T12-30-15.250Z`, 'utf8'), 'taken', 'the earlier one is untouched')
})

t.test('load throws STATE_WRITE when the bad file cannot be moved aside', { skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  // /proc/version reads fine, is not JSON, and cannot be renamed, even by root
  t.throws(() => new FileStateStore('/proc/version', { clock: new FakeClock(START) }).load(), { code: 'CUTOVER_ERR_STATE_WRITE' })
})

t.test('parseStateFile checks every field', async (t) => {
  t.same(parseStateFile(validFile()), { y: 25, locked: false, lock_reason: null, rollout: null })
  t.same(parseStateFile({ ...validFile(), rollout }), { y: 25, locked: false, lock_reason: null, rollout })
  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['no version', { ...validFile(), version: undefined }],
    ['version string', { ...validFile(), version: '1' }],
    ['no updated_at', { ...validFile(), updated_at: 5 }],
    ['split missing', { ...validFile(), split: undefined }],
    ['y string', { ...validFile(), split: { y: '25' } }],
    ['y negative', { ...validFile(), split: { y: -1 } }],
    ['y null', { ...validFile(), split: { y: null } }],
    ['locked missing', { ...validFile(), locked: undefined }],
    ['lock_reason number', { ...validFile(), lock_reason: 3 }],
    ['lock_reason past 4096 characters', { ...validFile(), locked: true, lock_reason: 'r'.repeat(4097) }],
    ['rollout string', { ...validFile(), rollout: 'running' }],
    ['rollout no steps', { ...validFile(), rollout: { ...rollout, steps: [] } }],
    ['rollout step y bad', { ...validFile(), rollout: { ...rollout, steps: [{ y: 101, hold: 0 }] } }],
    ['rollout step hold bad', { ...validFile(), rollout: { ...rollout, steps: [{ y: 10, hold: -5 }] } }],
    ['rollout step hold string', { ...validFile(), rollout: { ...rollout, steps: [{ y: 10, hold: '5m' }] } }],
    ['rollout step negative', { ...validFile(), rollout: { ...rollout, step: -1 } }],
    ['rollout step fractional', { ...validFile(), rollout: { ...rollout, step: 0.5 } }],
    ['rollout status', { ...validFile(), rollout: { ...rollout, status: 'done' } }],
    ['rollout started_at', { ...validFile(), rollout: { ...rollout, started_at: 'yesterday' } }],
  ]
  for (const [name, data] of bad) t.type(parseStateFile(data), 'string', name)
  t.equal(parseStateFile({ ...validFile(), locked: true, lock_reason: 'r'.repeat(4097) }), 'lock_reason: 4097 characters, more than 4096')
})

t.test('isPercent: 0..100 with at most two decimals', async (t) => {
  for (const ok of [0, 100, 0.01, 0.29, 12.5, 99.99, 33.33]) t.ok(isPercent(ok), String(ok))
  for (const no of [-0.01, 100.01, 0.001, 1.005, NaN, Infinity, '5', null, undefined]) t.notOk(isPercent(no), String(no))
})
