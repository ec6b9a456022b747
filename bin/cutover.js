#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50 --no-maglev
// The installed command: runs the compiled CLI (npm ci builds dist/ through `prepare`).
// The V8 flags above size the heap for a long-running proxy (bench/README.md, "Memory,
// 2026-11-29 evening"): a young generation of at most 2 x 8 MiB (V8 grows it to 2 x 16
// MiB under load, 2 x 32 on Node 24) and an old generation collected once it has grown by
// half, not up to 4x; and no Maglev, V8's middle compiler, which costs Node 24 ~4 MiB for
// no CPU per request measured (bench/README.md, "The floor of any Node.js relay at that
// rate"; Node 20's V8 has it off already). `npx cutover` and the image's entrypoint start
// node with them, workers inherit them (node:cluster forks with the primary's execArgv);
// `node bin/cutover.js` without them works, with more memory.
// node:fs read without its ES namespace, as src/ reads built-ins (README, "Development")
const { existsSync } = process.getBuiltinModule('node:fs')

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
