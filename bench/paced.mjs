// A constant-rate load generator in the style of wrk2: requests are scheduled at fixed
// intervals (rate per second) over a set of keep-alive connections, and each latency is
// measured from the request's scheduled time, so a stalled proxy cannot hide its stall by
// slowing the generator down (coordinated omission). autocannon's own --overallRate sends
// each connection's quota in a burst at the start of every second, which is not a fixed
// rate. GET only, raw sockets, a minimal HTTP/1.1 response parser.
//
// This JavaScript client adds its own event-loop lag to every figure: against nginx's upstream
// directly, at 18,000 req/s on the load core, its p50 was 1.1 ms and its p99 2-43 ms. So where
// a C compiler is installed the paced rows use bench/paced.c instead (runPacedC: the same
// schedule in C, epoll and a timerfd; a p50 of 0.04 ms and a p99 of 0.1 ms in that set-up).
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hasCommand, startChild } from './children.mjs'
import { Samples } from './samples.mjs'
import { assertLocal } from './load.mjs'

const HEAD_END = Buffer.from('\r\n\r\n')
const CHUNKED_END = Buffer.from('0\r\n\r\n')

/**
 * How far `buf` holds one complete response: { status, length } with length the bytes it
 * takes, or null when more bytes are needed. Content-Length and chunked bodies.
 */
export function completeResponse(buf) {
  const headEnd = buf.indexOf(HEAD_END)
  if (headEnd < 0) return null
  const head = buf.latin1Slice(0, headEnd)
  const status = Number(head.slice(9, 12))
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
  const bodyStart = headEnd + 4
  if (cl) {
    const length = bodyStart + Number(cl[1])
    return buf.length >= length ? { status, length } : null
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    const end = buf.indexOf(CHUNKED_END, bodyStart)
    return end < 0 ? null : { status, length: end + CHUNKED_END.length }
  }
  return { status, length: bodyStart }
}

class Connection {
  constructor(target, request, onDone, onError) {
    this.target = target
    this.request = request
    this.onDone = onDone
    this.onError = onError
    this.busy = false
    this.scheduled = 0
    this.buf = null
    this.open = false
    this.closed = false
    this.connect()
  }

  connect() {
    const socket = connect({ host: this.target.hostname, port: Number(this.target.port), noDelay: true })
    this.socket = socket
    this.ready = new Promise((resolve) => {
      socket.once('connect', () => {
        this.open = true
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    socket.on('data', (chunk) => this.data(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      this.open = false
      if (this.busy) {
        this.busy = false
        this.onError()
      }
      this.buf = null
      if (!this.closed)
        setTimeout(() => {
          if (!this.closed) this.connect()
        }, 10)
    })
  }

  send(scheduled) {
    this.busy = true
    this.scheduled = scheduled
    this.socket.write(this.request)
  }

  data(chunk) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk
    const done = completeResponse(this.buf)
    if (!done) return
    this.buf = done.length < this.buf.length ? this.buf.subarray(done.length) : null
    this.busy = false
    this.onDone(this.scheduled, done.status)
  }

  close() {
    this.closed = true
    this.socket.destroy()
  }
}

/**
 * Send GET `url` at `rate` requests per second over `connections` keep-alive
 * connections for `duration` seconds (connections are opened first and reused round
 * robin, so every one of them stays in use). Resolves a load result (see load.mjs) with
 * `late`: requests that could not go out on time because every connection was busy (they go
 * out as soon as one is free, up to 2 s past the end, their latency counted from when they
 * were due) and `unsent`: those still not sent then.
 * `during(elapsedMs)` is called once, half way, for sampling the proxy.
 */
export async function runPaced({ url, connections, rate, duration, headers = {}, during }) {
  assertLocal(url)
  const target = new URL(url)
  const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`, 'User-Agent: cutover-bench']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  const request = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')
  const samples = new Samples()
  let responses = 0
  let non2xx = 0
  let errors = 0
  const onDone = (scheduled, status) => {
    responses++
    if (status < 200 || status > 299) non2xx++
    samples.record(performance.now() - scheduled)
  }
  const onError = () => {
    errors++
  }
  const pool = []
  for (let i = 0; i < connections; i++) pool.push(new Connection(target, request, onDone, onError))
  let giveUp
  const connected = await Promise.race([
    Promise.all(pool.map((c) => c.ready)),
    new Promise((resolve) => {
      giveUp = setTimeout(() => resolve(null), 10_000)
    }),
  ])
  clearTimeout(giveUp)
  const opened = connected ? connected.filter(Boolean).length : pool.filter((c) => c.open).length
  const interval = 1000 / rate
  const start = performance.now()
  const end = start + duration * 1000
  const total = Math.floor(duration * rate)
  let sent = 0
  let late = 0
  let next = 0
  let midway = false
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now()
      if (!midway && during && now - start >= duration * 500) {
        midway = true
        during(now - start)
      }
      // at the end every request of the schedule is due (end - start in floating point may
      // fall a hair short of duration, and floor() would then leave the last one out)
      const due = now >= end ? total : Math.min(Math.floor((now - start) / interval), total)
      while (sent < due) {
        let found = null
        for (let k = 0; k < pool.length; k++) {
          const c = pool[(next + k) % pool.length]
          if (c.open && !c.busy) {
            found = c
            next = (next + k + 1) % pool.length
            break
          }
        }
        if (!found) {
          late++
          break
        }
        found.send(start + sent * interval)
        sent++
      }
      // requests due while every connection was busy go out late (their latency counts
      // from when they were due, as bench/paced.c's do), up to 2 s past the end
      if ((now >= end && sent >= total) || now >= end + 2000) {
        clearInterval(tick)
        resolve()
      }
    }, 1)
  })
  // let the last responses come in, then close everything
  const drainUntil = performance.now() + 2000
  while (pool.some((c) => c.busy) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5))
  errors += pool.filter((c) => c.busy).length
  for (const c of pool) c.close()
  const seconds = (performance.now() - start) / 1000
  return { tool: 'paced', responses, seconds, rps: responses / seconds, ...samples.percentiles(), errors, non2xx, late, opened, unsent: total - sent }
}

const PACED_C = fileURLToPath(new URL('./paced.c', import.meta.url))

/**
 * Build bench/paced.c with the system's cc into `dir`: its path, or null with why not
 * ({ binary, reason }).
 */
export function buildPacedC(dir) {
  if (!hasCommand('cc')) return { binary: null, reason: 'no C compiler (cc) on PATH' }
  mkdirSync(dir, { recursive: true })
  const binary = join(dir, 'paced')
  const built = spawnSync('cc', ['-O2', '-o', binary, PACED_C], { encoding: 'utf8' })
  if (built.status !== 0) return { binary: null, reason: `cc failed: ${(built.stderr || '').trim().split('\n')[0]}` }
  return { binary, reason: null }
}

/**
 * runPaced's schedule, run by the C client `binary` (pinned to `core` when given). Resolves
 * the same load result, plus p90, p999, max and `lateRequests` (sent over 1 ms late).
 * @param {string} binary
 * @param {{ url: string, connections: number, rate: number, duration: number, core?: number, during?: (elapsedMs: number) => void }} options
 */
export async function runPacedC(binary, { url, connections, rate, duration, core, during }) {
  assertLocal(url)
  const target = new URL(url)
  let out = ''
  let midway = null
  const handle = startChild(binary, [target.hostname, target.port, `${target.pathname}${target.search}`, String(rate), String(connections), String(duration)], {
    core,
    onStdout: (chunk) => {
      out += chunk
      // half way from when its clock started (after every connection opened)
      if (during && midway === null && out.includes('"started":true')) midway = setTimeout(() => during(duration * 500), duration * 500)
    },
  })
  const killer = setTimeout(() => handle.stop(500), (duration + 20) * 1000)
  const { code } = await handle.exited
  clearTimeout(killer)
  clearTimeout(midway)
  if (code !== 0) throw new Error(`bench/paced.c exited with ${code}: ${handle.output().trim()}`)
  // its late counts requests sent over 1 ms after they were due, not runPaced's busy ticks
  const { late, ...result } = JSON.parse(out.trim().split('\n').pop())
  return { ...result, tool: 'paced', lateRequests: late }
}
