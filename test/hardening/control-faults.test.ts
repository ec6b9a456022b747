// Control plane faults (issue 7, point 4) against a whole cutover: an unwritable state
// file, prototype keys at any depth, oversized bodies, failed authentications.
import t from 'tap'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { startTestCutover, tempDir, TOKEN } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'

t.test('an unwritable state file: 503 with the reason, the split stays, disk and memory agree', async (t) => {
  const base = tempDir()
  const dir = join(base, 'state')
  mkdirSync(dir)
  const x = await startUpstream('x')
  const y = await startUpstream('y')
  const c = await startTestCutover({ x: [x.url], y: [y.url], stateDir: dir })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
    await y.close()
    rmSync(base, { recursive: true, force: true })
  })
  t.equal((await c.api('PUT', '/v1/split', { y: 10 })).status, 200, 'writable: the split moves')

  // the directory goes away and a regular file takes its place (root ignores chmod)
  const moved = join(base, 'state-moved')
  renameSync(dir, moved)
  writeFileSync(dir, 'not a directory')
  const onDisk = () => JSON.parse(readFileSync(join(moved, 'state.json'), 'utf8'))

  for (const [method, path, body] of [
    ['PUT', '/v1/split', { y: 100 }],
    ['POST', '/v1/rollback', { reason: 'disk test' }],
    ['POST', '/v1/rollout', { steps: [{ y: 20, hold: '1m' }, { y: 100 }] }],
  ] as const) {
    const r = await c.api(method, path, body)
    t.equal(r.status, 503, `${method} ${path}: 503`)
    t.equal(r.body.code, 'CUTOVER_ERR_STATE_WRITE', `${method} ${path}: the code says why`)
    t.ok(typeof r.body.error === 'string' && r.body.error.includes(join(dir, 'state.json')), `${method} ${path}: the reason names the file`)
    const state = (await c.api('GET', '/v1/state')).body
    t.equal(state.split.y, 10, `${method} ${path}: the live split did not change`)
    t.equal(state.locked, false, `${method} ${path}: not locked`)
    t.equal(state.rollout, null, `${method} ${path}: no rollout`)
    t.equal(onDisk().split.y, state.split.y, `${method} ${path}: disk and memory agree`)
    t.equal(onDisk().locked, state.locked)
  }
  // the data plane still splits 90/10: y got no more than its share
  y.seen.length = 0
  x.seen.length = 0
  for (let i = 0; i < 200; i++) await (await fetch(`${c.proxyUrl}/r${i}`)).text()
  t.ok(y.seen.length < 50, `y got ${y.seen.length} of 200 (10 %, tolerance < 50)`)

  // the disk comes back: changes work again
  rmSync(dir)
  renameSync(moved, dir)
  t.equal((await c.api('PUT', '/v1/split', { y: 25 })).status, 200, 'writable again')
  t.equal(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).split.y, 25)
})

t.test('prototype keys at any depth never reach the state or Object.prototype', async (t) => {
  const x = await startUpstream('x')
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  const bodies: Array<[string, string, string]> = [
    ['PUT', '/v1/split', '{"y":5,"__proto__":{"locked":true}}'],
    ['PUT', '/v1/split', '{"y":{"__proto__":{"valueOf":1}}}'],
    ['PUT', '/v1/split', '{"constructor":{"prototype":{"y":7}},"y":5}'],
    ['POST', '/v1/rollback', '{"reason":"r","__proto__":{"locked":false}}'],
    ['POST', '/v1/rollback', '{"reason":{"constructor":{"prototype":{"polluted":1}}}}'],
    ['POST', '/v1/rollout', '{"steps":[{"y":10,"hold":"1s","__proto__":{"y":100}},{"y":100}]}'],
    ['POST', '/v1/rollout', '{"steps":[{"y":10,"hold":"1s","constructor":{"prototype":{"polluted":1}}},{"y":100}]}'],
    ['POST', '/v1/rollout', '{"steps":[[{"__proto__":{"polluted":1}}]]}'],
    ['POST', '/v1/unlock', '{"__proto__":{"polluted":1}}'],
  ]
  const before = (await c.api('GET', '/v1/state')).body
  for (const [method, path, payload] of bodies) {
    const r = await fetch(`${c.controlUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: payload })
    t.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${payload}: refused with ${r.status}`)
    t.type((await r.json()).code, 'string')
    const plain = {} as Record<string, unknown>
    t.equal(plain.polluted, undefined, 'Object.prototype untouched')
    t.equal(plain.locked, undefined)
    t.equal(plain.y, undefined)
  }
  t.same((await c.api('GET', '/v1/state')).body.split, before.split, 'the split is where it was')
  t.equal((await c.api('GET', '/v1/state')).body.rollout, null, 'no rollout started')
})

t.test('a body above the control limit is 413 and changes nothing', async (t) => {
  const x = await startUpstream('x')
  const c = await startTestCutover({ x: [x.url], y: [] })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  const r = await fetch(`${c.controlUrl}/v1/split`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: `{"y":50,"pad":"${'z'.repeat(200_000)}"}`,
  })
  t.equal(r.status, 413)
  t.equal((await c.api('GET', '/v1/state')).body.split.y, 0)
})

t.test('failed authentications are logged without the token and counted', async (t) => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const x = await startUpstream('x')
  const c = await startTestCutover({ x: [x.url], y: [], start: { logger: pino({ level: 'info' }, sink) } })
  t.teardown(async () => {
    await c.cutover.close()
    await x.close()
  })
  const guess = 'guessed-secret-42424242'
  for (const authorization of [`Bearer ${guess}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`]) {
    const r = await fetch(`${c.controlUrl}/v1/rollback`, { method: 'POST', headers: { authorization } })
    t.equal(r.status, 401)
  }
  const metrics = await (await fetch(`${c.controlUrl}/metrics`)).text()
  t.match(metrics, /^cutover_control_auth_failures_total 3$/m, 'counted')
  const all = lines.join('')
  t.ok(
    lines.some((l) => /auth/i.test(l)),
    'logged',
  )
  t.notOk(all.includes(guess), 'the offered token is not in the log')
  t.notOk(all.includes(TOKEN), 'the real token is not in the log')
  t.equal((await c.api('GET', '/v1/state')).body.locked, false, 'nothing changed')
})
