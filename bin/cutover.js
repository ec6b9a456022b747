#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm ci builds dist/ through `prepare`).
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  process.stderr.write('cutover: dist/ is missing; run `npm ci` (or `npm run build`) in the checkout first\n')
  process.exit(1)
}
const { main } = await import(cli.href)
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`cutover: ${err?.stack ? err.stack : err}\n`)
    process.exit(1)
  },
)
