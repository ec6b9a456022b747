import t from 'tap'
import { formatBanner, formatEvent, type BannerInput } from '../../src/demo/banner.js'

const input: BannerInput = {
  proxyUrl: 'http://127.0.0.1:8080',
  controlUrl: 'http://127.0.0.1:9901',
  token: 'tok_abcdefghijklmnopqrst',
  xVersion: '3.4.2',
  yVersion: '3.9.1',
  xNodes: [1, 2, 3].map((i) => ({ name: `kong-x${i}`, url: `http://127.0.0.1:${i}` })),
  yNodes: [4, 5, 6].map((i) => ({ name: `kong-y${i - 3}`, url: `http://127.0.0.1:${i}` })),
  yErrorRate: 0,
  yLatencyMs: 0,
  yReadyAfterMs: 3000,
  rps: 100,
  split: 10,
  quiet: false,
}

t.test('the banner names what runs and gives copy-paste commands', async (t) => {
  const text = formatBanner(input)
  for (const url of [input.proxyUrl, input.controlUrl]) t.ok(text.includes(url), url)
  t.match(text, '  x pool   Kong 3.4.2   kong-x1  http://127.0.0.1:1\n                        kong-x2  http://127.0.0.1:2\n', 'each node by name, then where it listens')
  t.match(text, '  y pool   Kong 3.9.1   kong-y1  http://127.0.0.1:4\n')
  t.match(text, 'kong-y3  http://127.0.0.1:6\n')
  t.match(text, 'export CUTOVER_URL=http://127.0.0.1:9901 CUTOVER_TOKEN=tok_abcdefghijklmnopqrst')
  t.match(text, 'curl -s -H "Authorization: Bearer $CUTOVER_TOKEN" $CUTOVER_URL/v1/state')
  t.match(text, `-d '{"y":50}' $CUTOVER_URL/v1/split`)
  t.match(text, '$CUTOVER_URL/v1/rollback')
  t.match(text, '$CUTOVER_URL/v1/unlock')
  t.match(text, '-X POST -H "Authorization: Bearer $CUTOVER_TOKEN" $CUTOVER_URL/v1/rollout')
  t.match(text, '/v1/events')
  t.match(text, 'npx cutover ctl status')
  t.match(text, '--y-error-rate 0.3', 'suggests the error rate when y behaves')
  t.match(text, 'ready 3s after start')
  t.match(text, "gates         over 10s: y's error rate above 5% or its p99 above 250ms rolls back to x;")
  t.match(text, 'a step of the plan moves on after its hold and 30 y requests that pass')
  t.match(text, 'rollout plan  y 10% (hold 10s) -> 50% (hold 10s) -> 100%')
  t.match(text, 'Walk the plan: `npx cutover ctl rollout start` takes y to 100% within 45 s while the gates pass.')
  t.match(text, 'the gate rolls y back to x by itself within 30 s, and again during a rollout.')
})

t.test('the times promised are only promised at the default traffic', async (t) => {
  const text = formatBanner({ ...input, rps: 5 })
  t.notMatch(text, /within \d+ s/)
  t.match(text, 'with --rps 5 y gets fewer requests than the default 100, so verdicts take longer')
})

t.test('with a misbehaving y the banner says so and what to do', async (t) => {
  const text = formatBanner({ ...input, yErrorRate: 0.2, yLatencyMs: 300 })
  t.match(text, '20% errors')
  t.match(text, '+300ms latency')
  t.notMatch(text, 'start the demo again with --y-error-rate')
  t.match(text, 'has 10% of the traffic, so the gate rolls it back\nto x by itself within 30 s of start')
  t.match(text, '  npx cutover ctl unlock\n  npx cutover ctl rollout start\n')
  const none = formatBanner({ ...input, yErrorRate: 0.2, rps: 0, split: 0 })
  t.match(none, 'none (--rps 0)')
  t.match(none, 'Start the plan and the gate rolls y back to x')
  t.notMatch(none, 'ctl unlock\n  npx cutover ctl rollout start')
})

t.test('one line per event: local time and the sentence', async (t) => {
  const at = new Date(2026, 0, 1, 12, 0, 3, 120).toISOString()
  const line = formatEvent({
    id: 7,
    at,
    type: 'rollback',
    cause: 'gate',
    reason: 'gate max_error_rate: error_rate 0.083 > 0.05 over 41 requests',
    from: 50,
    to: 0,
    rollout_stopped: true,
    figures: { x: { requests: 165 } },
  })
  t.equal(line, '12:00:03 The gate rolled y back to x: gate max_error_rate: error_rate 0.083 > 0.05 over 41 requests. y was at 50%, the rollout stopped; the split stays locked until unlocked')
  t.equal(formatEvent({ id: 8, at, type: 'node.healthy', pool: 'y', node: 'kong-y1', cause: 'probe ok 2/2' }), '12:00:03 y node kong-y1 is healthy: probe ok 2/2')
})
