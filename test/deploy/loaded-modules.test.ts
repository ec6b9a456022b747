/**
 * cutover reads Node's built-in modules with `process.getBuiltinModule`, not `import`
 * (biome's noNodejsModules holds src/ to it). An ES import of a built-in builds the whole
 * module namespace, which runs every lazy getter the module has: on Node 24, importing
 * node:http that way loads Node's bundled undici (its fetch and WebSocket) and web
 * streams, ~2.8 MiB of heap the proxy never uses (bench/README.md, "Built-in modules
 * read without their ES namespaces"). This runs the real process, proxies a request,
 * scrapes /metrics and stops it, then reads the list of modules Node loaded.
 */

import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/cutover.js'
import { run, yaml } from '../helpers/process.js'
import { startUpstream } from '../helpers/upstream.js'

t.test('a running cutover does not load Node’s bundled fetch', async (t) => {
  const x = await startUpstream('x1')
  const y = await startUpstream('y1')
  t.teardown(() => Promise.all([x.close(), y.close()]))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  writeFileSync(path, yaml(dir, [x.url], [y.url], 'health: { active: { path: /status/ready, interval: 1s } }\nsplit: { y: 50 }'))
  const listFile = join(dir, 'modules.json')
  const preload = join(dir, 'list-modules.cjs')
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)}, JSON.stringify(process.moduleLoadList)))\n`)
  const c = await run(path, { NODE_OPTIONS: `--require ${preload}` })
  t.equal((await fetch(`${c.proxyUrl}/`)).status, 200, 'a request went through the proxy')
  t.equal((await fetch(`${c.controlUrl}/metrics`)).status, 200, 'the control listener answered')
  c.child.kill('SIGTERM')
  t.equal(await c.exited, 0)
  const loaded: string[] = JSON.parse(readFileSync(listFile, 'utf8'))
  t.ok(loaded.includes('NativeModule net') && loaded.includes('NativeModule http'), 'the list is the real one: it has net, and http (fastify)')
  t.same(
    loaded.filter((m) => m.includes('internal/deps/undici')),
    [],
    'Node’s own undici is not loaded: some src/ file ES-imports node:http (or another built-in whose namespace pulls it in)',
  )
})
