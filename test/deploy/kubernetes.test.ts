/**
 * deploy/kubernetes: every manifest parses and names itself, and the Deployment keeps
 * the properties the README promises (one replica, Recreate, probes, non-root,
 * read-only root, the token from a Secret mounted as a file, the state on the PVC).
 */

import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { parseConfig } from '../../src/config/load.js'
import { K8S_TOKEN_FILE, TOKEN, withTokenFile } from '../helpers/cutover.js'

const DIR = resolve(import.meta.dirname, '../../deploy/kubernetes')
// biome-ignore lint/suspicious/noExplicitAny: manifests of any shape; the assertions check what they read
type Doc = any

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f))
const docs: { file: string; doc: Doc }[] = []
for (const file of files) {
  for (const d of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
    if (d.errors.length === 0 && d.contents === null) continue // an empty document
    docs.push({ file, doc: d.errors.length ? d.errors : d.toJS() })
  }
}
const find = (kind: string, name: string) => docs.find((d) => d.doc.kind === kind && d.doc.metadata?.name === name)?.doc

t.test('every manifest parses and has apiVersion, kind, metadata.name', async (t) => {
  t.ok(files.length >= 5, 'manifests found')
  for (const { file, doc } of docs) {
    t.notOk(Array.isArray(doc), `${file}: parses`)
    t.match(doc.apiVersion, /^[\w.]+(\/v\w+)?$|^v1$/, `${file}: apiVersion`)
    t.type(doc.kind, 'string', `${file}: kind`)
    t.type(doc.metadata?.name, 'string', `${file}: metadata.name`)
  }
})

t.test('kustomization lists every other manifest', async (t) => {
  const k = find('Kustomization', 'cutover')
  t.ok(k)
  t.same([...k.resources].sort(), files.filter((f) => f !== 'kustomization.yaml').sort())
})

t.test('deployment', async (t) => {
  const d = find('Deployment', 'cutover')
  t.equal(d.spec.replicas, 1)
  t.equal(d.spec.strategy.type, 'Recreate')
  const pod = d.spec.template.spec
  const c = pod.containers[0]
  t.same(
    c.ports.map((p: Doc) => [p.name, p.containerPort]),
    [
      ['proxy', 8080],
      ['control', 9901],
    ],
  )
  t.same(c.livenessProbe.httpGet, { path: '/healthz', port: 'control' })
  t.same(c.readinessProbe.httpGet, { path: '/readyz', port: 'control' })
  t.equal(pod.securityContext.runAsNonRoot, true)
  t.equal(pod.securityContext.runAsUser, 10001, 'the image user')
  t.equal(c.securityContext.readOnlyRootFilesystem, true)
  t.equal(c.securityContext.allowPrivilegeEscalation, false)
  t.ok(c.resources.requests.cpu && c.resources.requests.memory, 'resource requests')
  t.notOk(
    (c.env ?? []).some((e: Doc) => e.valueFrom?.secretKeyRef?.name === 'cutover-token'),
    'the token is not in the environment',
  )

  const mounts = Object.fromEntries(c.volumeMounts.map((m: Doc) => [m.mountPath, m.name]))
  const volumes = Object.fromEntries(pod.volumes.map((v: Doc) => [v.name, v]))
  const tokenDir = K8S_TOKEN_FILE.slice(0, K8S_TOKEN_FILE.lastIndexOf('/'))
  t.equal(volumes[mounts[tokenDir]].secret.secretName, 'cutover-token', 'the token Secret is mounted where the config reads it')
  t.equal(c.volumeMounts.find((m: Doc) => m.mountPath === tokenDir).readOnly, true)
  t.equal(volumes[mounts['/var/lib/cutover']].persistentVolumeClaim.claimName, 'cutover-state')
  t.ok(find('PersistentVolumeClaim', 'cutover-state'), 'the claim exists')
  t.same(find('PersistentVolumeClaim', 'cutover-state').spec.accessModes, ['ReadWriteOnce'])
  t.equal(volumes[mounts['/etc/cutover']].configMap.name, 'cutover-config')
  t.same(c.args, ['--config', '/etc/cutover/cutover.yaml'])
})

t.test('config in the ConfigMap fits the deployment', async (t) => {
  const cm = find('ConfigMap', 'cutover-config')
  const config = parse(cm.data['cutover.yaml'])
  t.equal(config.state.path, '/var/lib/cutover/state.json', 'state on the volume')
  t.equal(config.control.token_file, K8S_TOKEN_FILE, 'token from the mounted Secret')
  t.equal(config.control.token, undefined, 'no token in the config itself')
  t.equal(config.proxy.listen, '0.0.0.0:8080')
  t.equal(config.control.listen, '0.0.0.0:9901', 'probes and Prometheus reach it')
  t.equal(config.health.active.path, '/status/ready', "Kong's readiness endpoint")
  for (const pool of ['x', 'y']) {
    for (const url of config.pools[pool].nodes) t.doesNotThrow(() => new URL(url), `${pool}: ${url}`)
  }
  const d = find('Deployment', 'cutover')
  const drain = Number(/^(\d+)s$/.exec(config.proxy.drain_timeout)?.[1])
  t.ok(d.spec.template.spec.terminationGracePeriodSeconds > drain, 'grace period outlasts the drain')
})

t.test("the ConfigMap's config passes cutover's own validation", async (t) => {
  const text = find('ConfigMap', 'cutover-config').data['cutover.yaml']
  const config = parseConfig(withTokenFile(text), { env: {}, source: 'configmap.yaml' })
  t.equal(config.control.token, TOKEN, 'the token read from the file')
  t.equal(config.state.path, '/var/lib/cutover/state.json')
  t.same(config.control.listen, { host: '0.0.0.0', port: 9901 })
  t.equal(config.pools.y.nodes.length, 2)
  t.ok(config.rollout?.steps.length, 'a rollout plan')
})

t.test('services: proxy and a separate internal control service', async (t) => {
  const proxy = find('Service', 'cutover')
  const control = find('Service', 'cutover-control')
  t.same(
    proxy.spec.ports.map((p: Doc) => p.port),
    [8080],
  )
  t.same(
    control.spec.ports.map((p: Doc) => p.port),
    [9901],
  )
  t.equal(control.spec.type, 'ClusterIP', 'control port never public')
})
