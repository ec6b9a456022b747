// The event loop's thread keeps its priority; V8's helper threads go to nice 19.
import t from 'tap'
import { HELPER_NICE, lowerHelperThreads } from '../src/helper-threads.js'

const { mkdirSync, mkdtempSync, readdirSync, readFileSync } = process.getBuiltinModule('node:fs')
const { tmpdir } = process.getBuiltinModule('node:os')
const { join } = process.getBuiltinModule('node:path')

/** The nice value of each thread of this process, by thread id (proc(5): field 19 of stat). */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>()
  for (const name of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${name}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out.set(Number(name), Number(fields[16]))
  }
  return out
}

t.test('on Linux every thread but the event loop goes to nice 19', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const before = niceByThread()
  t.ok(before.size > 1, `this process has helper threads (${before.size - 1})`)
  t.equal(before.get(process.pid), 0, 'the event loop starts at 0')
  const lowered = lowerHelperThreads()
  t.ok(lowered >= before.size - 1, `each of them lowered (${lowered})`)
  const after = niceByThread()
  t.equal(after.get(process.pid), 0, "the event loop's thread is left alone")
  for (const [tid, nice] of after) if (tid !== process.pid && before.has(tid)) t.equal(nice, HELPER_NICE, `thread ${tid}`)
})

t.test('elsewhere, or without /proc, nothing is touched', async (t) => {
  t.equal(lowerHelperThreads('darwin'), 0)
  t.equal(lowerHelperThreads('linux', join(mkdtempSync(join(tmpdir(), 'cutover-threads-')), 'missing')), 0)
})

t.test('a listing with names that are not threads, or the event loop itself, lowers none of them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-threads-'))
  for (const name of ['0', 'x', String(process.pid)]) mkdirSync(join(dir, name))
  t.equal(lowerHelperThreads('linux', dir, process.pid), 0)
  t.equal(niceByThread().get(process.pid), 0)
})
