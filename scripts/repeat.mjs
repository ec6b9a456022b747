#!/usr/bin/env node
/**
 * Runs test files again and again to find the ones that fail now and then:
 *
 *   npm run test:repeat -- test/hardening/limits.test.ts 20
 *   npm run test:repeat -- --parallel 2 20 test/e2e/*.test.ts
 *
 * Arguments: test files (globs expanded by the shell) and one number, the runs per file
 * (default 20). `--parallel K` runs K tap processes at once (one file each, round-robin
 * over the runs), to add load the way CI's parallel runner does. Every failing run's
 * output is kept under test-artifacts/repeat/ and the summary prints one line per file:
 * `passed P of N  file`; `--verbose` also prints each passing run and its duration.
 * Exits 1 when any run failed.
 */

import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** Parses the command line; throws with a usage message when it is wrong. */
export function parseArgs(argv) {
  const files = []
  let runs = 20
  let parallel = 1
  let verbose = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--parallel') {
      parallel = Number(argv[++i])
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 8) throw new Error('--parallel takes a whole number from 1 to 8')
    } else if (a === '--verbose') {
      verbose = true
    } else if (/^\d+$/.test(a)) {
      runs = Number(a)
      if (runs < 1 || runs > 1000) throw new Error('runs must be from 1 to 1000')
    } else {
      files.push(a)
    }
  }
  if (files.length === 0) throw new Error('usage: npm run test:repeat -- [--parallel K] [--verbose] FILE... [RUNS]')
  return { files, runs, parallel, verbose }
}

function runOnce(file) {
  const started = Date.now()
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve('node_modules/.bin/tap'), '--disable-coverage', '-R', 'tap', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => out.push(d))
    child.on('close', (code) => done({ ok: code === 0, output: Buffer.concat(out).toString(), seconds: (Date.now() - started) / 1000 }))
  })
}

async function main() {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    console.error(err.message)
    process.exit(2)
  }
  const jobs = []
  for (let r = 0; r < opts.runs; r++) for (const file of opts.files) jobs.push({ file, run: r + 1 })
  const passed = new Map(opts.files.map((f) => [f, 0]))
  const dir = join('test-artifacts', 'repeat')
  mkdirSync(dir, { recursive: true })
  let next = 0
  async function worker() {
    while (next < jobs.length) {
      const job = jobs[next++]
      const result = await runOnce(job.file)
      if (result.ok) {
        passed.set(job.file, passed.get(job.file) + 1)
        if (opts.verbose) console.log(`ok run ${job.run} of ${job.file} (${result.seconds.toFixed(1)} s)`)
      } else {
        const name = join(dir, `${job.file.replace(/[^\w.-]+/g, '_')}.run${job.run}.log`)
        writeFileSync(name, result.output)
        console.log(`FAILED run ${job.run} of ${job.file}: ${name}`)
      }
    }
  }
  await Promise.all(Array.from({ length: opts.parallel }, worker))
  let failed = 0
  for (const [file, p] of passed) {
    console.log(`passed ${p} of ${opts.runs}  ${file}`)
    failed += opts.runs - p
  }
  process.exit(failed > 0 ? 1 : 0)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
