import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haproxyConfig, haproxy, nginx, nginxConfig } from '../../bench/rivals.mjs'

const weighted = { port: 18080, x: [9001], y: [9002], sticky: null }
const sticky = { ...weighted, sticky: 'x-consumer-id' }
const hundred = { port: 18080, x: Array.from({ length: 100 }, (_, i) => 10000 + i), y: Array.from({ length: 100 }, (_, i) => 11000 + i), sticky: null }

t.test('nginx: one worker, keepalive 128, HTTP/1.1 upstream, no access log, 90/10 weights', async (t) => {
  const conf = nginxConfig('/tmp/d', weighted)
  t.match(conf, /worker_processes 1;/)
  t.match(conf, /keepalive 128;/)
  t.match(conf, /proxy_http_version 1\.1;/)
  t.match(conf, /proxy_set_header Connection "";/)
  t.match(conf, /access_log off;/)
  t.match(conf, /server 127\.0\.0\.1:9001 weight=9;/)
  t.match(conf, /server 127\.0\.0\.1:9002 weight=1;/)
  t.match(conf, /listen 127\.0\.0\.1:18080;/)
  t.notMatch(conf, /split_clients/)
})

t.test('nginx sticky: split_clients on the header, 10% to the y pool', async (t) => {
  const conf = nginxConfig('/tmp/d', sticky)
  t.match(conf, /split_clients "\$http_x_consumer_id" \$pool \{\s+10% pool_y;\s+\* pool_x;/)
  t.match(conf, /proxy_pass http:\/\/\$pool;/)
})

t.test('nginx: 100 nodes per pool', async (t) => {
  const conf = nginxConfig('/tmp/d', hundred)
  t.equal(conf.match(/weight=9;/g)?.length, 100)
  t.equal(conf.match(/weight=1;/g)?.length, 100)
})

t.test('haproxy: one thread, http-reuse always, weights 9/1, sticky by header hash', async (t) => {
  const conf = haproxyConfig(weighted)
  t.match(conf, /nbthread 1/)
  t.match(conf, /http-reuse always/)
  t.match(conf, /server x0 127\.0\.0\.1:9001 weight 9/)
  t.match(conf, /server y0 127\.0\.0\.1:9002 weight 1/)
  t.notMatch(conf, /\blog\b/)
  t.match(haproxyConfig(sticky), /balance hdr\(x-consumer-id\)/)
  t.equal(haproxyConfig(hundred).match(/^ {2}server /gm)?.length, 200)
})

t.test('nginx accepts its configs (nginx -t)', { skip: !nginx.available() && 'nginx not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const route of [weighted, sticky, hundred]) {
    const conf = join(dir, 'nginx.conf')
    writeFileSync(conf, nginxConfig(dir, route))
    const r = spawnSync('nginx', ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off; master_process off;'], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
  }
})

t.test('haproxy accepts its configs (haproxy -c)', { skip: !haproxy.available() && 'haproxy not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-haproxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const route of [weighted, sticky, hundred]) {
    const conf = join(dir, 'haproxy.cfg')
    writeFileSync(conf, haproxyConfig(route))
    const r = spawnSync('haproxy', ['-c', '-f', conf], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
  }
})
