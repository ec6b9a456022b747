// Write config/cutover.schema.json from the loader's rules (after `npm run build`).
// test/config/json-schema.test.ts fails while the published file differs from this output.
import { writeFileSync } from 'node:fs'

const { configSchemaText, generateConfigSchema } = await import(new URL('../dist/config/json-schema.js', import.meta.url).href)
const { unknown } = generateConfigSchema()
if (unknown.length) {
  process.stderr.write(`config keys without a schema (annotate their rule, or add them to src/config/json-schema.ts): ${unknown.join(', ')}\n`)
  process.exit(1)
}
const out = new URL('../config/cutover.schema.json', import.meta.url)
writeFileSync(out, configSchemaText())
process.stdout.write(`wrote ${out.pathname}\n`)
