/**
 * scripts/run-tests.mjs: the last line is always `N passed, N failed` (`N skipped` on the line before it) and
 * the exit code is tap's. One run on real tap (its summary format is what could drift),
 * the edge cases on a stand-in tap that prints canned output (real tap costs seconds).
 */

import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseSummary, resultLine } from '../../scripts/run-tests.mjs'

const ROOT = resolve(import.meta.dirname, '../..')
const SCRIPT = join(ROOT, 'scripts/run-tests.mjs')

// The script runs the tap found in the working directory's node_modules/.bin first.
const FAKE_TAP = `
process.stdout.write('args: ' + process.argv.slice(2).join(' ') + '\\n')
process.stdout.write(process.env.FAKE_OUT.replace(/\\\\n/g, '\\n'))
process.exitCode = Number(process.env.FAKE_CODE)
`

function tempDir(t: { teardown(fn: () => void): void }, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cutover-run-tests-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function run(cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  // The outer tap run sets TAP* variables that would make an inner tap act as its child.
  const env: NodeJS.ProcessEnv = { ...extra }
  for (const [k, v] of Object.entries(process.env)) if (!/^_?TAP/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr.resume()
    child.on('error', fail)
    child.on('close', (code) => done({ code, out }))
  })
}

const lastLine = (out: string) => out.trimEnd().split('\n').at(-1)

t.test('helpers', async (t) => {
  t.same(parseSummary('total: 7, pass: 4, fail: 1, todo: 1, skip: 1'), { total: 7, pass: 4, fail: 1, skip: 1, todo: 1 })
  t.same(parseSummary('total: 3, pass: 3'), { total: 3, pass: 3, fail: 0, skip: 0, todo: 0 })
  t.equal(resultLine({ total: 3, pass: 3, fail: 0, skip: 0, todo: 0 }), '3 passed, 0 failed')
  t.equal(resultLine({ total: 7, pass: 4, fail: 1, skip: 1, todo: 1 }), '2 skipped\n4 passed, 1 failed')
  t.equal(resultLine(null), '0 passed, 1 failed')
})

t.test('stand-in tap', async (t) => {
  const dir = tempDir(t, 'fake')
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true })
  writeFileSync(join(dir, 'node_modules/.bin/tap'), FAKE_TAP)
  const fake = (out: string, code: number, args: string[] = []) => run(dir, args, { FAKE_OUT: out, FAKE_CODE: String(code) })

  const [green, failing, none, dimmed] = await Promise.all([
    fake('ok 1 - a\\n# { total: 3, pass: 3 }\\n# time=1ms\\n', 0, ['--grep', 'x y', 'test/a.ts']),
    fake('# { total: 5, pass: 2, fail: 3 }\\n', 3),
    // An indented summary belongs to a nested TAP stream, not to the run.
    fake('    # { total: 9, pass: 9 }\\nnot ok 1 - crashed\\n', 0),
    fake('\u001b[2m# { total: 4, pass: 4, todo: 1 }\u001b[22m\\n', 0),
  ])
  t.match(green.out, /^args: --grep x y test\/a\.ts$/m, 'arguments pass through unchanged')
  t.match(green.out, /^ok 1 - a$/m, 'output passes through')
  t.equal(lastLine(green.out), '3 passed, 0 failed')
  t.equal(green.code, 0)
  t.equal(lastLine(failing.out), '2 passed, 3 failed')
  t.equal(failing.code, 3, "tap's own exit code")
  t.equal(lastLine(none.out), '0 passed, 1 failed', 'no summary')
  t.equal(none.code, 1, 'no summary: non-zero even if tap said 0')
  t.equal(lastLine(dimmed.out), '4 passed, 0 failed', 'ANSI colours stripped')
  t.match(dimmed.out, /^1 skipped\n4 passed, 0 failed\n$/m, 'the skipped on the line before')
})

t.test('real tap', async (t) => {
  const dir = tempDir(t, 'real')
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  writeFileSync(join(dir, 'package.json'), '{"name":"fixture","type":"module"}\n')
  mkdirSync(join(dir, 'test'))
  writeFileSync(join(dir, 'test/mixed.test.mjs'), "import t from 'tap'\nt.pass('a')\nt.pass('b')\nt.fail('c')\nt.skip('d', () => {})\nt.todo('e')\n")
  const { code, out } = await run(dir, ['--disable-coverage', 'test/mixed.test.mjs'])
  t.match(out, /^not ok 1 - test\/mixed\.test\.mjs/m, 'tap output passes through')
  // tap counts the file's own test point too: a, b and the file are 3 points, 2 pass.
  t.equal(lastLine(out), '2 passed, 1 failed')
  t.match(out, /^2 skipped$/m)
  t.equal(code, 1)
})
