/**
 * Config drift end to end: Kong stand-ins answering /status with a configuration_hash
 * (as a DB-less node's status listener does) and proxy traffic; a start refused while x
 * and y disagree, forced; a hash changed mid-rollout pauses it (or rolls back).
 */

import t, { type Test } from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startTestCutover } from '../helpers/cutover.js'
import { startUpstream } from '../helpers/upstream.js'
import { metricValue, waitUntil } from '../helpers/wait.js'

const A = '1f2e3d4c5b6a79881f2e3d4c5b6a7988'
const B = '9a8b7c6d5e4f30219a8b7c6d5e4f3021'

/** A Kong stand-in: /status with its hash, anything else a 200. */
async function kong(name: string, hash: { value: string }) {
  return startUpstream(name, (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    if (req.url === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ server: { connections_active: 1 }, memory: {}, configuration_hash: hash.value }))
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(name)
  })
}

async function setup(t: Test, action: string) {
  const hashes = { x1: { value: A }, x2: { value: A }, y1: { value: B } }
  const x1 = await kong('x1', hashes.x1)
  const x2 = await kong('x2', hashes.x2)
  const y1 = await kong('y1', hashes.y1)
  const c = await startTestCutover({
    x: [x1.url, x2.url],
    y: [y1.url],
    extra: `drift:\n  interval: 100ms\n  action: ${action}\nrollout:\n  steps:\n    - { y: 10, hold: 1h }\n    - { y: 100 }\n`,
  })
  t.teardown(async () => {
    await c.cutover.close()
    await Promise.all([x1.close(), x2.close(), y1.close()])
  })
  await waitUntil(
    'every hash read',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return [...body.pools.x.nodes, ...body.pools.y.nodes].every((n: { config_hash: string | null }) => n.config_hash !== null)
    },
    5000,
  )
  return { c, hashes }
}

t.test('a start is refused while x and y disagree; a hash changed mid-rollout pauses it', async (t) => {
  const { c, hashes } = await setup(t, 'pause')
  const state = (await c.api('GET', '/v1/state')).body
  t.same(
    state.pools.x.nodes.map((n: { config_hash: string }) => n.config_hash),
    [A, A],
  )
  t.equal(state.pools.y.nodes[0].config_hash, B)
  t.match(state.analysis.drift_refusal, `x configuration_hash ${A}, y ${B}`)
  t.equal(await metricValue(c, `cutover_node_config_hash_info{pool="y",node="${new URL(c.config.pools.y.nodes[0].url).host}",hash="${B}"}`), 1)

  const refused = await c.api('POST', '/v1/rollout')
  t.equal(refused.status, 409)
  t.match(refused.body.error, `rollout not started: x and y serve different configs: x configuration_hash ${A}, y ${B}`)
  t.equal((await c.api('GET', '/v1/state')).body.rollout, null, 'nothing started')

  hashes.y1.value = A
  await waitUntil('y reads A', async () => (await c.api('GET', '/v1/state')).body.analysis.drift_refusal === null, 5000)
  t.equal((await c.api('POST', '/v1/rollout')).status, 200)
  // someone pushes a new kong.yml to one x node mid-upgrade
  hashes.x2.value = B
  const paused = await waitUntil(
    'the rollout paused',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.rollout?.status === 'paused' ? body : undefined
    },
    5000,
  )
  t.equal(paused.split.y, 10, 'held at its step')
  const events = (await c.api('GET', '/v1/events')).body as Array<{ type: string; kind?: string; reason?: string }>
  const drifts = events.filter((e) => e.type === 'config.drift')
  t.same(drifts.map((e) => e.kind).sort(), ['hash_changed', 'pool_disagrees'])
  t.ok(drifts.some((e) => /changed its config during the upgrade/.test(e.reason ?? '')))
  t.ok(events.some((e) => e.type === 'rollout.paused' && /config drift/.test(e.reason ?? '')))
  t.equal(await metricValue(c, 'cutover_config_drift_total{kind="hash_changed"}'), 1)
})

t.test('forced start; action rollback rolls back on a drift', async (t) => {
  const { c, hashes } = await setup(t, 'rollback')
  t.equal((await c.api('POST', '/v1/rollout', { force: true })).status, 200, 'force starts though x and y disagree')
  // a forced start with y disagreeing is no drift by itself: only a pool's nodes or a change are
  hashes.y1.value = A
  const rolled = await waitUntil(
    'rolled back',
    async () => {
      const { body } = await c.api('GET', '/v1/state')
      return body.locked ? body : undefined
    },
    5000,
  )
  t.equal(rolled.split.y, 0)
  t.match(rolled.lock_reason, /node .* of pool y changed its config during the upgrade/)
  t.equal((await c.api('POST', '/v1/rollout', { force: 'yes' })).status, 400, 'force must be a boolean')
})
