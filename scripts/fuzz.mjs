#!/usr/bin/env node
/**
 * `npm run fuzz`: the differential fuzz of cutover's HTTP/1.1 codec against llhttp, with as
 * many cases as you like (test/http1/fuzz/cli.ts; options there, or --help). The test code
 * is TypeScript: it runs under the same ts-node loader tap uses, so nothing is built first.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const child = spawn(process.execPath, ['--import', import.meta.resolve('@tapjs/typescript/import'), join(root, 'test/http1/fuzz/cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', TS_NODE_PROJECT: join(root, 'tsconfig.json') },
})
process.on('SIGINT', () => {}) // the terminal sent it to the child too
child.on('close', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0)
})
