import t from 'tap'
import { formatBanner, formatEvent, type BannerInput } from '../../src/demo/banner.js'

const input: BannerInput = {
  proxyUrl: 'http://127.0.0.1:8080',
  controlUrl: 'http://127.0.0.1:9901',
  token: 'tok_abcdefghijklmnopqrst',
  xVersion: '3.4.2',
  yVersion: '3.9.1',
  xNodes: ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'],
  yNodes: ['http://127.0.0.1:4', 'http://127.0.0.1:5', 'http://127.0.0.1:6'],
  yErrorRate: 0,
  yLatencyMs: 0,
  yReadyAfterMs: 3000,
  rps: 20,
  split: 10,
  quiet: false,
}

t.test('the banner names what runs and gives copy-paste commands', async (t) => {
  const text = formatBanner(input)
  for (const url of [...input.xNodes, ...input.yNodes, input.proxyUrl, input.controlUrl]) t.ok(text.includes(url), url)
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
})

t.test('with a misbehaving y the banner says so and what to do', async (t) => {
  const text = formatBanner({ ...input, yErrorRate: 0.2, yLatencyMs: 300, rps: 0 })
  t.match(text, '20% errors')
  t.match(text, '+300ms latency')
  t.notMatch(text, 'restart with --y-error-rate')
  t.match(text, 'none (--rps 0)')
})

t.test('one line per event, cause and reason first', async (t) => {
  const line = formatEvent({ id: 7, at: '2026-01-01T12:00:03.120Z', type: 'rollback', cause: 'gate', reason: 'error_rate 0.083 > 0.05 over 41 requests', from: 50, to: 0 })
  t.equal(line, '12:00:03 rollback (gate) reason="error_rate 0.083 > 0.05 over 41 requests" from=50 to=0')
  const nested = { id: 8, at: '2026-01-01T12:00:03.120Z', type: 'rollback', cause: 'gate', reason: 'r', figures: { x: { requests: 165, errors: 0, error_rate: 0 }, y: { requests: 31 } } }
  t.equal(formatEvent(nested), '12:00:03 rollback (gate) reason="r"', 'long nested figures are left to /v1/events')
  t.equal(formatEvent({ id: 1, at: '2026-01-01T00:00:00.000Z', type: 'health', node: 'y1', pools: ['x'] }), '00:00:00 health node=y1 pools=["x"]')
})
