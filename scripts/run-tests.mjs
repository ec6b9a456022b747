#!/usr/bin/env node
/**
 * The project's test command (`npm test`): runs tap with any extra arguments, streams its
 * output live, then prints one last line `N passed, N failed` (the line before it says
 * `N skipped` when tests were skipped or left todo) read from tap's final summary, and exits with tap's
 * exit code. CI and the lead's tooling read that last line, so it must always be there:
 * when tap ends without a summary (bad option, crash, killed) it says `0 passed, 1 failed`
 * and exits non-zero.
 */

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// tap 21 ends every run, whatever the reporter, with `# { total: 7, pass: 4, fail: 1, ... }`.
// Anchored at column 0 so an indented child TAP stream cannot be mistaken for it.
const SUMMARY = /^# \{ (total: \d+(?:, \w+: \d+)*) \}\s*$/
// The base reporter dims the summary line with ANSI codes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes this strips
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g

/** Where tap lives: the project in the working directory first, else next to this script. */
function tapBin() {
  const local = resolve('node_modules/.bin/tap')
  if (existsSync(local)) return local
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'tap')
}

/** Parses `total: 7, pass: 4, fail: 1` into counts; absent keys are 0. */
export function parseSummary(body) {
  const counts = { total: 0, pass: 0, fail: 0, skip: 0, todo: 0 }
  for (const part of body.split(', ')) {
    const [key, value] = part.split(': ')
    if (key in counts) counts[key] = Number(value)
  }
  return counts
}

/** The last lines: `N skipped` when any were (skipped or todo), then always `N passed, N failed`; null counts mean no summary was seen. */
export function resultLine(counts) {
  if (counts === null) return '0 passed, 1 failed'
  const skipped = counts.skip + counts.todo
  const line = `${counts.pass} passed, ${counts.fail} failed`
  return skipped > 0 ? `${skipped} skipped\n${line}` : line
}

function hasReporterArg(args) {
  return args.some((a) => a === '-R' || a.startsWith('--reporter') || /^-R./.test(a))
}

function main(args) {
  const env = { ...process.env }
  // tap picks its terse TAP reporter when stdout is not a terminal, and ours is a pipe to
  // it; keep the friendly reporter for people running `npm test` in a terminal.
  if (process.stdout.isTTY && !hasReporterArg(args)) {
    args = ['--reporter=base', ...args]
    env.FORCE_COLOR ??= '1'
  }
  const child = spawn(process.execPath, [tapBin(), ...args], {
    stdio: ['inherit', 'pipe', 'inherit'],
    env,
  })

  let summary = null
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk)
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()
    for (const line of lines) scan(line)
  })
  function scan(line) {
    const m = SUMMARY.exec(line.replace(ANSI, ''))
    if (m) summary = parseSummary(m[1])
  }

  // CI stops a job with SIGTERM; pass it on so tap can stop its children and report.
  const forward = (signal) => child.kill(signal)
  process.on('SIGTERM', forward)
  process.on('SIGINT', () => {}) // the terminal already sent SIGINT to tap too

  child.on('error', (err) => {
    process.stderr.write(`run-tests: cannot start tap: ${err.message}\n`)
  })
  child.on('close', (code, signal) => {
    if (partial) scan(partial)
    process.stdout.write(`\n${resultLine(summary)}\n`)
    let status = code ?? 128 + (constants.signals[signal] ?? 0)
    if (summary === null && status === 0) status = 1
    process.exitCode = status
  })
}

// Importable for its helpers; runs only as a script.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2))
}
