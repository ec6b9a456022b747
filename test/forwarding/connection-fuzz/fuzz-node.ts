// A raw node for the connection fuzz (no tests here): reads each request (Content-Length or
// chunked body) and answers it as its plan says, in pieces; on a request's first attempt it
// may cut, reset or stall at the plan's byte. Answers go out in order, one at a time. An
// upgrade request's later bytes are its tunnel's: after a 101 they are echoed (a fault in
// the echo ends it), after a declined upgrade they are dropped.
import type net from 'node:net'
import { type RawServer, startRawServer } from '../../helpers/upstream.js'
import type { NodePlan } from './script.js'

/**
 * seen: how many times any node read the head of each request id (shared by all nodes);
 * headsWhole: when (performance.now()) a node's answer head to each request id was all
 * written, for the attempt it is on (see Timing in judge.ts).
 */
export function fuzzNode(plans: ReadonlyMap<number, NodePlan>, seen: Map<number, number>, onAccept: () => void, headsWhole?: Map<number, number>): Promise<RawServer> {
  return startRawServer((s) => {
    onAccept()
    serve(s, plans, seen, headsWhole)
  })
}

interface Incoming {
  id: number
  /** Content-Length bytes still due, or -1: chunked */
  left: number
  attempt: number
}

function serve(s: net.Socket, plans: ReadonlyMap<number, NodePlan>, seen: Map<number, number>, headsWhole: Map<number, number> | undefined): void {
  let buf = Buffer.alloc(0)
  let cur: Incoming | null = null
  const queue: Incoming[] = []
  let writing = false
  /** the node stopped answering on this socket (a fault) */
  let done = false
  /** after an upgrade's head: every byte is the tunnel's */
  let tunnel: { plan: NodePlan; faulty: boolean; open: boolean; held: Buffer[]; echoLeft: number } | null = null
  const fault = (plan: NodePlan) => {
    done = true
    if (plan.fault === 'cut') s.end()
    else if (plan.fault === 'reset') setTimeout(() => s.resetAndDestroy(), 20)
    // stall: never another byte
  }
  /** echo tunnel bytes, up to the fault */
  const echo = (d: Buffer) => {
    const t = tunnel!
    if (done || s.destroyed) return
    if (!t.open) {
      t.held.push(d)
      return
    }
    const take = Math.min(d.length, t.echoLeft)
    if (take > 0) s.write(d.subarray(0, take))
    t.echoLeft -= take
    if (t.faulty && t.echoLeft === 0) fault(t.plan)
  }
  const answer = (r: Incoming) => {
    queue.push(r)
    if (!writing) void pump()
  }
  const pump = async () => {
    writing = true
    while (queue.length > 0 && !done && !s.destroyed) {
      const r = queue.shift()!
      const plan = plans.get(r.id)
      if (plan === undefined) {
        s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
        done = true
        break
      }
      const faulty = r.attempt === 1 && plan.fault !== 'none'
      // a 101's fault may lie beyond its head, in the echo
      const until = faulty ? Math.min(plan.cutAt, plan.bytes.length) : plan.bytes.length
      let from = 0
      const wrote = (to: number) => {
        if (from < plan.headEnd && to >= plan.headEnd) headsWhole?.set(r.id, performance.now())
        from = to
      }
      for (const split of plan.splits) {
        if (split.at >= until) break
        s.write(plan.bytes.subarray(from, split.at))
        wrote(split.at)
        await new Promise((w) => setTimeout(w, split.pauseMs))
        if (s.destroyed) return
      }
      if (from < until) {
        s.write(plan.bytes.subarray(from, until))
        wrote(until)
      }
      if (plan.kind === 'switch' && until === plan.bytes.length) {
        // switched: the tunnel's bytes are echoed from now on (up to the fault)
        const t = tunnel!
        t.open = true
        if (t.faulty && t.echoLeft === 0) fault(plan)
        for (const d of t.held.splice(0)) echo(d)
        break
      }
      if (faulty) {
        fault(plan)
        break
      }
      if (plan.kind === 'until-close' || plan.connectionClose) {
        done = true
        s.end()
      }
    }
    writing = false
  }
  s.on('data', (d) => {
    if (tunnel !== null) {
      if (tunnel.plan.kind === 'switch') echo(d)
      return
    }
    buf = buf.length === 0 ? d : Buffer.concat([buf, d])
    for (;;) {
      if (cur === null) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        buf = buf.subarray(end + 4)
        const id = Number(/^\w+ \/r\/(\d+) /.exec(head)?.[1] ?? 0)
        const length = /\r\ncontent-length: *(\d+)/i.exec(head)
        const attempt = (seen.get(id) ?? 0) + 1
        seen.set(id, attempt)
        headsWhole?.delete(id)
        cur = { id, left: /\r\ntransfer-encoding: *chunked/i.test(head) ? -1 : length ? Number(length[1]) : 0, attempt }
        const plan = plans.get(id)
        if (plan !== undefined && /\r\nupgrade: *websocket/i.test(head)) {
          const faulty = attempt === 1 && plan.fault !== 'none'
          tunnel = { plan, faulty, open: false, held: [], echoLeft: faulty ? plan.cutAt - plan.headEnd : Number.POSITIVE_INFINITY }
          answer(cur)
          if (buf.length > 0 && plan.kind === 'switch') echo(buf)
          return
        }
        if (plan?.early) answer(cur)
      }
      if (cur.left >= 0) {
        const take = Math.min(cur.left, buf.length)
        buf = buf.subarray(take)
        cur.left -= take
        if (cur.left > 0) return
      } else {
        const consumed = chunkedEnd(buf)
        if (consumed < 0) {
          buf = buf.subarray(skippableChunks(buf))
          return
        }
        buf = buf.subarray(consumed)
      }
      const r = cur
      cur = null
      if (!plans.get(r.id)?.early) answer(r)
    }
  })
}

/** Bytes of whole chunks at the start of buf (not the last one): they can be dropped while the rest arrives. */
function skippableChunks(buf: Buffer): number {
  let at = 0
  for (;;) {
    const line = buf.indexOf('\r\n', at)
    if (line < 0) return at
    const size = parseInt(buf.subarray(at, line).toString('latin1'), 16)
    if (size === 0 || buf.length < line + 2 + size + 2) return at
    at = line + 2 + size + 2
  }
}

/** Where a chunked body that starts buf ends (after its trailers), or -1 when it is not all there. */
function chunkedEnd(buf: Buffer): number {
  let at = skippableChunks(buf)
  const line = buf.indexOf('\r\n', at)
  if (line < 0 || parseInt(buf.subarray(at, line).toString('latin1'), 16) !== 0) return -1
  at = line + 2
  for (;;) {
    const next = buf.indexOf('\r\n', at)
    if (next < 0) return -1
    if (next === at) return at + 2
    at = next + 2
  }
}
