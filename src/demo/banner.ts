/**
 * What the demo prints for people: the banner with what runs and copy-paste commands, and
 * one short line per audit event so a rollback shows up in the terminal as it happens.
 */

import { clockTime, share } from '../control/figures.js'
import { eventSentence } from '../notify/event-text.js'
import type { CutoverEvent } from '../state/events.js'
import { DEMO_GATES, DEMO_PLAN, DEMO_RPS, type DemoNode } from './demo-config.js'

/**
 * What the banner promises, in seconds, with the demo's default flags; the scenario tests
 * (test/demo/scenario-*.test.ts) fail when the demo does not keep it.
 */
export const DEMO_CLAIMS = Object.freeze({
  /** a misbehaving y is rolled back within this, from start or from `ctl rollout start` */
  rollbackWithinS: 30,
  /** a healthy y walks the whole plan within this after `ctl rollout start` */
  planWithinS: 45,
})

export interface BannerInput {
  proxyUrl: string
  controlUrl: string
  token: string
  xVersion: string
  yVersion: string
  xNodes: readonly DemoNode[]
  yNodes: readonly DemoNode[]
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
  const traffic = b.rps > 0 ? `${b.rps} req/s from 200 consumers (x-consumer-id)${b.quiet ? '' : ', a summary every 5s on stderr'}` : 'none (--rps 0); send your own with curl'
  const g = DEMO_GATES
  const plan = DEMO_PLAN.map((s) => `${share(s.y)}${s.hold_s > 0 ? ` (hold ${s.hold_s}s)` : ''}`).join(' -> ')
  const lines = [
    'cutover demo is running',
    '',
    ...pool('x', b.xVersion, b.xNodes),
    ...pool('y', b.yVersion, b.yNodes),
    `                        (simulated: ${ySim.join(', ')})`,
    `  proxy         ${b.proxyUrl}   y share at start: ${share(b.split)}, sticky on x-consumer-id`,
    `  control API   ${b.controlUrl}`,
    `  console       ${b.controlUrl}/  (open it in a browser; it asks for the token)`,
    `  token         ${b.token}`,
    `  traffic       ${traffic}`,
    `  gates         over ${g.window_s}s: y's error rate above ${share(g.max_error_rate * 100)} or its p99 above ${g.max_p99_ms}ms rolls back to x;`,
    `                a step of the plan moves on after its hold and ${g.min_requests} y requests that pass`,
    `  rollout plan  y ${plan}`,
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
    '  # the same through the ctl client, which reads CUTOVER_URL and CUTOVER_TOKEN',
    '  npx cutover ctl status',
    '  npx cutover ctl rollout start',
    '  npx cutover ctl events --follow',
    '  npx cutover ctl split 50',
    '  npx cutover ctl rollback --reason "trying it"',
    '  npx cutover ctl unlock',
    '',
    '  # or the API itself: the state, a split, a rollback, the plan, the audit log, the metrics',
    `  curl -s ${auth} $CUTOVER_URL/v1/state`,
    `  curl -s -X PUT ${auth} -H 'content-type: application/json' -d '{"y":50}' $CUTOVER_URL/v1/split`,
    `  curl -s -X POST ${auth} -H 'content-type: application/json' -d '{"reason":"trying it"}' $CUTOVER_URL/v1/rollback`,
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/unlock`,
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/rollout`,
    `  curl -s -X POST ${auth} $CUTOVER_URL/v1/rollout/pause`,
    `  curl -s ${auth} "$CUTOVER_URL/v1/events?since=0"`,
    '  curl -s $CUTOVER_URL/metrics | grep ^cutover_',
    '',
    ...whatToWatch(b),
    '',
    'Ctrl-C stops everything.',
    '',
  ]
  return lines.join('\n')
}

/** A pool's nodes, one a line: the name everything shows, and where it listens. */
function pool(name: string, version: string, nodes: readonly DemoNode[]): string[] {
  return nodes.map((n, i) => `${i === 0 ? `  ${name} pool   Kong ${version}` : ' '.repeat(21)}   ${n.name}  ${n.url}`)
}

/** The closing lines: what this run will show, with the times the scenario tests hold it to. */
function whatToWatch(b: BannerInput): string[] {
  const timely = b.rps >= DEMO_RPS
  const within = (s: number) => (timely ? ` within ${s} s` : '')
  const slow = timely ? [] : [`(with --rps ${b.rps} y gets fewer requests than the default ${DEMO_RPS}, so verdicts take longer)`]
  if (b.yErrorRate > 0 || b.yLatencyMs > 0) {
    const start =
      b.split > 0
        ? [
            `Watch the gate: y is set to misbehave and has ${share(b.split)} of the traffic, so the gate rolls it back`,
            `to x by itself${within(DEMO_CLAIMS.rollbackWithinS)} of start (the console and \`ctl events\` say why). Then unlock and start`,
            'the plan to watch it roll back again during a rollout:',
          ]
        : ['Watch the gate: y is set to misbehave. Start the plan and the gate rolls y back to x', `by itself${within(DEMO_CLAIMS.rollbackWithinS)}:`]
    return [...start, '', ...(b.split > 0 ? ['  npx cutover ctl unlock'] : []), '  npx cutover ctl rollout start', ...slow]
  }
  return [
    `Walk the plan: \`npx cutover ctl rollout start\` takes y to 100%${within(DEMO_CLAIMS.planWithinS)} while the gates pass.`,
    'To watch a rollback instead, start the demo again with --y-error-rate 0.3 (or --y-latency 300ms):',
    `the gate rolls y back to x by itself${within(DEMO_CLAIMS.rollbackWithinS)}, and again during a rollout.`,
    ...slow,
  ]
}

/** One line for an audit event: `14:03:09 The gate rolled y back to x: ...`, in local time. */
export function formatEvent(event: CutoverEvent): string {
  return `${clockTime(event.at)} ${eventSentence(event)}`
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
