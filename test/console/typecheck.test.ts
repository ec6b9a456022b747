/**
 * The console's browser modules are checked against the API's contract
 * (src/control/api-types.ts) with the DOM's types, as `npm run typecheck` does: a field
 * renamed in the contract, or a typo in the page's script, fails here.
 */

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))

t.test('tsc checks src/console/assets/*.js without an error', async (t) => {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'src/console/assets/tsconfig.json', '--listFilesOnly'], { cwd: root, encoding: 'utf8' })
  const files = tsc.stdout.split('\n').filter((f) => !f.includes('node_modules'))
  t.same(
    files
      .filter(Boolean)
      .map((f) => f.slice(root.length))
      .sort(),
    ['src/console/assets/app.js', 'src/console/assets/figures.js', 'src/console/assets/view.js', 'src/control/api-types.ts'],
    'the modules and the contract',
  )
  const check = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'src/console/assets/tsconfig.json'], { cwd: root, encoding: 'utf8' })
  t.equal(check.status, 0, check.stdout + check.stderr)
})
