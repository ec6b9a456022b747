/**
 * Roles (issue 14): the viewer token reads /v1/state, /v1/events, /v1/history, the
 * OpenAPI document and the console, and every route that changes something answers it 403
 * with a clear message, changing nothing. The mutating routes are taken from
 * /v1/openapi.json, so a new one is tried here without editing this file. Tokens may come
 * from files (a Kubernetes Secret's mount).
 */

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/config/config-error.js'
import { startUpstream } from '../helpers/upstream.js'
import { tempDir } from '../helpers/cutover.js'
import { OPERATOR, VIEWER, operatorYaml, startOperatorCutover } from './operator-harness.js'

// biome-ignore lint/suspicious/noExplicitAny: the document is walked as data
type Doc = any

/** A valid body for each mutating route, so a 403 is not a 400 in disguise. */
const BODIES: Record<string, unknown> = { '/v1/split': { y: 5 }, '/v1/nodes/{pool}/{node}': { admin: 'drain' }, '/v1/rollback': { reason: 'viewer' } }

t.test('the viewer token reads everything and changes nothing, on every mutating route', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined))
  const c = await startOperatorCutover({ x: [`{ url: ${a.url}, name: a }`, `{ url: ${b.url}, name: b }`], y: [], extra: 'rollout: { steps: [{ y: 100 }] }' })
  t.teardown(() => c.cutover.close())

  for (const path of ['/v1/state', '/v1/events', '/v1/history', '/v1/openapi.json']) t.equal((await c.call(VIEWER, 'GET', path)).status, 200, `viewer reads ${path}`)
  const page = await fetch(`${c.controlUrl}/`)
  t.equal(page.status, 200, 'the console page')

  const doc: Doc = (await c.call(VIEWER, 'GET', '/v1/openapi.json')).body
  const mutating: Array<[string, string]> = []
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-cutover-role'?: string }>>)) {
    for (const [method, op] of Object.entries(ops)) if (op['x-cutover-role'] === 'operator') mutating.push([method.toUpperCase(), path])
  }
  t.ok(mutating.length >= 9, `${mutating.length} mutating routes`)
  const stateFile = join(c.stateDir, 'state.json')
  const before = readFileSync(stateFile, 'utf8')
  const eventsBefore = (await c.call(OPERATOR, 'GET', '/v1/events')).body.length
  for (const [method, path] of mutating) {
    const url = path.replace('{pool}', 'x').replace('{node}', 'a')
    const res = await c.call(VIEWER, method, url, BODIES[path] ?? {})
    t.equal(res.status, 403, `${method} ${path}`)
    t.same(res.body, { error: `the viewer token may read, not change: ${method} ${url} needs the operator token (control.token)`, code: 'CUTOVER_ERR_FORBIDDEN' })
  }
  t.equal(readFileSync(stateFile, 'utf8'), before, 'the state file is untouched')
  t.equal((await c.call(OPERATOR, 'GET', '/v1/events')).body.length, eventsBefore, 'no event')
  t.match((await c.call(VIEWER, 'GET', '/v1/state')).body, { split: { y: 0 }, locked: false, rollout: null })

  // the same routes with the operator token do change things, and the events say who
  t.equal((await c.call(OPERATOR, 'PUT', '/v1/nodes/x/a', { admin: 'drain' })).status, 200)
  t.equal((await c.call(OPERATOR, 'POST', '/v1/rollback', { reason: 'by the operator' })).status, 200)
  const events = (await c.call(VIEWER, 'GET', '/v1/events')).body as Array<Record<string, unknown>>
  t.match(events.slice(-2), [
    { type: 'node.admin', role: 'operator', remote: '127.0.0.1' },
    { type: 'rollback', role: 'operator', remote: '127.0.0.1', reason: 'by the operator' },
  ])
  t.equal((await c.call('wrong-token-0123456', 'GET', '/v1/state')).status, 401)
})

t.test('tokens from files; a reload reads them again', async (t) => {
  const dir = tempDir()
  const opFile = join(dir, 'operator')
  const viewFile = join(dir, 'viewer')
  writeFileSync(opFile, 'file-operator-token-1\n')
  writeFileSync(viewFile, 'file-viewer-token-1\n')
  const a = await startUpstream('a')
  t.teardown(() => a.close())
  const control = `  token_file: ${opFile}\n  viewer_token_file: ${viewFile}`
  const c = await startOperatorCutover({ x: [a.url], y: [], control })
  t.teardown(() => c.cutover.close())
  t.equal((await c.call('file-operator-token-1', 'PUT', '/v1/split', { y: 0 })).status, 200)
  t.equal((await c.call('file-viewer-token-1', 'PUT', '/v1/split', { y: 0 })).status, 403)
  t.equal((await c.call('file-viewer-token-1', 'GET', '/v1/state')).status, 200)

  writeFileSync(opFile, 'file-operator-token-2\n')
  await c.cutover.reload(parseConfig(operatorYaml({ x: [a.url], y: [], control }, c.stateDir), { source: 'test' }))
  t.equal((await c.call('file-operator-token-1', 'GET', '/v1/state')).status, 401, 'the old token is gone')
  t.equal((await c.call('file-operator-token-2', 'GET', '/v1/state')).status, 200, 'the rotated one works')
})

t.test('the config names what is wrong with tokens', async (t) => {
  const dir = tempDir()
  const short = join(dir, 'short')
  writeFileSync(short, 'abc\n')
  const problems = (control: string): string[] => {
    try {
      parseConfig(operatorYaml({ x: ['http://127.0.0.1:1'], y: [], control }, dir), { source: 'test' })
      return []
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.replace(/ \(line \d+\)$/, ''))
      throw err
    }
  }
  t.same(problems(`  token: ${OPERATOR}\n  token_file: ${short}`), [`control.token_file: ${short} holds a token too short: at least 8 characters`, 'control.token_file: token is set too; choose one'])
  t.same(problems(`  token_file: ${join(dir, 'missing')}`), [`control.token_file: cannot read ${join(dir, 'missing')} (ENOENT)`])
  t.same(problems(`  token: ${OPERATOR}\n  viewer_token: ${OPERATOR}`), ['control.viewer_token: must differ from the operator token'])
  t.same(problems(`  viewer_token: ${VIEWER}`), ['control.token: required'])
})
