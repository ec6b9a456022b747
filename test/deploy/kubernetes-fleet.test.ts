/**
 * deploy/kubernetes-fleet: the overlay that runs 3 replicas sharing their state through
 * etcd holds what its README promises, and its cutover config passes the config check.
 */

import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { parseConfig } from '../../src/config/load.js'
import { K8S_TOKEN_FILE, TOKEN, withTokenFile } from '../helpers/cutover.js'

const DIR = resolve(import.meta.dirname, '../../deploy/kubernetes-fleet')
// biome-ignore lint/suspicious/noExplicitAny: manifests of any shape; the assertions check what they read
const read = (file: string): any => parse(readFileSync(join(DIR, file), 'utf8'))

t.test('the kustomization builds on deploy/kubernetes and drops its PVC', async (t) => {
  const k = read('kustomization.yaml')
  t.ok(k.resources.includes('../kubernetes'), 'the single-replica base')
  for (const r of k.resources) t.ok(existsSync(join(DIR, r)), `${r} exists`)
  for (const p of k.patches.filter((p: { path?: string }) => p.path)) t.ok(existsSync(join(DIR, p.path)), `${p.path} exists`)
  t.ok(
    k.patches.some((p: { patch?: string }) => /\$patch: delete[\s\S]*PersistentVolumeClaim/.test(p.patch ?? '')),
    'the PVC is deleted',
  )
  const volumes = read('deployment-patch.yaml').spec.template.spec.volumes
  t.match(volumes, [{ name: 'state', persistentVolumeClaim: null, emptyDir: {} }], 'the state volume is an emptyDir')
})

t.test('three replicas, rolled one at a time, a preStop pause, a PodDisruptionBudget', async (t) => {
  const d = read('deployment-patch.yaml')
  t.equal(d.spec.replicas, 3)
  t.match(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } })
  const c = d.spec.template.spec.containers[0]
  t.same(c.lifecycle.preStop.exec.command, ['sleep', '10'])
  t.ok(d.spec.template.spec.terminationGracePeriodSeconds >= 10 + 30, 'grace covers the pause and drain_timeout')
  t.same(
    c.env.map((e: { valueFrom: { secretKeyRef: { name: string } } }) => e.valueFrom.secretKeyRef.name),
    ['cutover-etcd', 'cutover-etcd', 'cutover-etcd'],
    'etcd settings from a Secret',
  )
  t.match(read('pdb.yaml'), { kind: 'PodDisruptionBudget', spec: { minAvailable: 2 } })
})

t.test("the overlay's cutover config is valid and shares its state through etcd", async (t) => {
  const text = read('configmap-patch.yaml').data['cutover.yaml']
  t.equal(parse(text).control.token_file, K8S_TOKEN_FILE, 'the token from the mounted Secret, as in the base')
  const config = parseConfig(withTokenFile(text), { env: { ETCD_ENDPOINT: 'http://etcd.etcd.svc.cluster.local:2379', ETCD_USERNAME: 'cutover', ETCD_PASSWORD: 'secret' } })
  t.equal(config.control.token, TOKEN)
  t.equal(config.state.backend, 'etcd')
  t.same(config.state.etcd?.endpoints, ['http://etcd.etcd.svc.cluster.local:2379'])
  t.equal(config.state.etcd?.prefix, '/cutover/kong-upgrade')
  t.equal(config.proxy.drain_timeout, 30_000)
})
