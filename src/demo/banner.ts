/**
 * What the demo prints for people: the banner with what runs and copy-paste commands, and
 * one short line per audit event so a rollback shows up in the terminal as it happens.
 */

import type { CutoverEvent } from '../state/events.js'

export interface BannerInput {
  proxyUrl: string
  controlUrl: string
  token: string
  xVersion: string
  yVersion: string
  xNodes: readonly string[]
  yNodes: readonly string[]
  yErrorRate: number
  yLatencyMs: number
  yReadyAfterMs: number
  rps: number
  split: number
  quiet: boolean
}

/** The banner printed on stdout once the demo is up. */
export function formatBanner(b: BannerInput): string {
  const auth = `-H "Authorization: Bearer $CUTOVER_TOKEN"`
  const ySim: string[] = [`ready ${formatMs(b.yReadyAfterMs)} after start`]
  if (b.yErrorRate > 0) ySim.push(`${round(b.yErrorRate * 100)}% errors`)
  if (b.yLatencyMs > 0) ySim.push(`+${formatMs(b.yLatencyMs)} latency`)
  const traffic = b.rps > 0
    ? `${b.rps} req/s from 200 consumers (x-consumer-id)${b.quiet ? '' : ', a summary every 5s on stderr'}`
    : 'none (--rps 0); send your own with curl'
  const lines = [
    'cutover demo is running',
    '',
    `  x pool   Kong ${b.xVersion}   ${b.xNodes.join('  ')}`,
    `  y pool   Kong ${b.yVersion}   ${b.yNodes.join('  ')}`,
    `           (simulated: ${ySim.join(', ')})`,
    `  proxy         ${b.proxyUrl}   y share at start: ${b.split}%, sticky on x-consumer-id`,
    `  control API   ${b.controlUrl}`,
    `  console       ${b.controlUrl}/  (open it in a browser; it asks for the token)`,
    `  token         ${b.token}`,
    `  traffic       ${traffic}`,
    '  gates         over 10s, from 30 y requests: error rate above 5% or p99 above 250ms rolls back to x',
    '  rollout plan  y 10% (hold 20s) -> 50% (hold 20s) -> 100%',
    '',
    'Try it from another terminal:',
    '',
    `  export CUTOVER_URL=${b.controlUrl} CUTOVER_TOKEN=${b.token}`,
    '',
    '  # a request through the proxy: the server header names the Kong version that answered',
    `  curl -si -H 'x-consumer-id: alice' ${b.proxyUrl}/orders | grep -iE '^(server|x-upstream-node):'`,
    '  # send one request to a chosen pool (the override header, for testing y before it gets traffic)',
    `  curl -s -H 'x-cutover-pool: y' ${b.proxyUrl}/orders`,
    '',
    '  # the state: split, lock, nodes and their health, gate figures',
    `  curl -s ${auth} $CUTOVER_URL/v1/state`,
    '  # move the split to 50% y',
    `  curl -s -X PUT ${auth} -H 'content-type: application/json' -d '{"y":50}' $CUTOVER_URL/v1/split`,
    '  # roll back to x now (this locks the split), then unlock it',
    `  curl -s -X POST ${auth} -H 'content-type: application/json' -d '{"reason":"trying it"}' $CUTOVER_URL/v1/rollback`,
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/unlock`,
    '  # run the rollout plan; pause, resume, promote or abort it',
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/rollout`,
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/rollout/pause`,
    '  # the audit log, and the metrics',
    `  curl -s ${auth} "$CUTOVER_URL/v1/events?since=0"`,
    '  curl -s $CUTOVER_URL/metrics | grep ^cutover_',
    '',
    '  # or the same through the ctl client, which reads CUTOVER_URL and CUTOVER_TOKEN',
    '  npx cutover ctl status',
    '  npx cutover ctl split 50',
    '  npx cutover ctl events --follow',
    '',
    b.yErrorRate > 0 || b.yLatencyMs > 0
      ? 'Watch the gate: y is set to misbehave. Move the split to 50 (or start the rollout); within\n' +
        'about 10s the gate sees enough y requests and rolls everything back to x.'
      : 'Watch the gate roll back: restart with --y-error-rate 0.3 (or --y-latency 300ms), then\n' +
        'move the split to 50 or start the rollout.',
    '',
    'Ctrl-C stops everything.',
    '',
  ]
  return lines.join('\n')
}

const MAX_NESTED = 40

/** One line for an audit event: `12:00:03 rollback (gate) reason="..." from=50 to=0`. */
export function formatEvent(event: CutoverEvent): string {
  const time = event.at.length >= 19 ? event.at.slice(11, 19) : event.at
  let line = `${time} ${event.type}`
  if (typeof event.cause === 'string') line += ` (${event.cause})`
  if (typeof event.reason === 'string') line += ` reason=${JSON.stringify(event.reason)}`
  for (const key of Object.keys(event)) {
    if (key === 'id' || key === 'at' || key === 'type' || key === 'cause' || key === 'reason') continue
    const v = event[key]
    if (v === undefined) continue
    const text = typeof v === 'string' ? v : JSON.stringify(v)
    // nested figures (a gate's checks, a state dump) belong in /v1/events, not a terminal line
    if (typeof v === 'object' && v !== null && text.length > MAX_NESTED) continue
    line += ` ${key}=${text}`
  }
  return line
}

function formatMs(ms: number): string {
  if (ms === 0) return '0s'
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
