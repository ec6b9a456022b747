// The load generators: autocannon in this process (its own latency histogram has 1 ms
// resolution, so every response time is recorded here with microseconds), wrk as a child
// process where installed (output parsed), and a one-connection sequential client for the
// latency a hop adds. Every run is time-limited and targets 127.0.0.1 only.
import { request, Agent } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { hasCommand, startChild } from './children.mjs'
import { Samples } from './samples.mjs'

// A load result: { tool, responses, seconds, rps, p50, p99, errors, non2xx }, latencies in ms.

const samples = new Samples()

function summarize(tool, responses, seconds, errors, non2xx) {
  return { tool, responses, seconds, rps: responses / seconds, ...samples.percentiles(), errors, non2xx }
}

/** Throw unless `url` points at 127.0.0.1: the bench never loads anything else. */
export function assertLocal(url) {
  if (new URL(url).hostname !== '127.0.0.1') throw new Error(`bench load targets 127.0.0.1 only, not ${url}`)
}

/**
 * One autocannon run: { url, connections, duration (s), method, body, headers,
 * idReplacement, overallRate }. Resolves a load result.
 */
export function runAutocannon(spec) {
  assertLocal(spec.url)
  samples.reset()
  let responses = 0
  let non2xx = 0
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.duration,
        method: spec.method ?? 'GET',
        body: spec.body,
        headers: spec.headers,
        idReplacement: spec.idReplacement ?? false,
        overallRate: spec.overallRate,
        timeout: 10,
        excludeErrorStats: false,
      },
      (err, result) => {
        if (err) return reject(err)
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        resolve(summarize('autocannon', responses, seconds, result.errors + result.timeouts, non2xx))
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++
      if (statusCode < 200 || statusCode > 299) non2xx++
      samples.record(responseTime)
    })
  })
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function toMs(value, unit) {
  return Number(value) * UNIT_MS[unit]
}

/**
 * Parse wrk's report (run with --latency): { responses, seconds, rps, p50, p99, errors,
 * non2xx }, latencies in ms. Throws when the text is not a wrk report.
 */
export function parseWrk(text) {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)
  if (!done || !rps) throw new Error(`not a wrk report: ${text.slice(0, 200)}`)
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)`, 'm').exec(text)
    return m ? toMs(m[1], m[2]) : NaN
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text)
  return {
    responses: Number(done[1]),
    seconds: toMs(done[2], done[3]) / 1000,
    rps: Number(rps[1]),
    p50: pct('50'),
    p99: pct('99'),
    errors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  }
}

/** The Lua script that makes wrk send what `spec` describes (POST body, sticky ids), or null. */
export function wrkScript(spec) {
  const lines = []
  if (spec.method && spec.method !== 'GET') lines.push(`wrk.method = "${spec.method}"`)
  if (spec.bodyBytes) lines.push(`wrk.body = string.rep("x", ${spec.bodyBytes})`, 'wrk.headers["Content-Type"] = "application/octet-stream"')
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    if (!value.includes('[<id>]')) lines.push(`wrk.headers["${name}"] = "${value}"`)
  }
  const random = Object.entries(spec.headers ?? {}).filter(([, v]) => v.includes('[<id>]'))
  if (random.length) {
    // a fresh random key per request, as autocannon's idReplacement does
    lines.push('request = function()')
    for (const [name, value] of random) lines.push(`  wrk.headers["${name}"] = "${value.replace('[<id>]', '" .. math.random(1, 2000000000) .. "')}"`)
    lines.push('  return wrk.format()', 'end')
  }
  return lines.length ? lines.join('\n') + '\n' : null
}

/** True when wrk is on PATH. */
export const wrkAvailable = () => hasCommand('wrk')

/** One wrk run (one thread, pinned to `core`), same spec as runAutocannon; dir holds its script. */
export async function runWrk(spec, { core, dir }) {
  assertLocal(spec.url)
  const args = ['-t1', `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.duration))}s`, '--timeout', '10s', '--latency']
  const script = wrkScript(spec)
  if (script) {
    const file = join(dir, `wrk-${process.pid}.lua`)
    writeFileSync(file, script)
    args.push('-s', file)
  }
  args.push(spec.url)
  let out = ''
  const handle = startChild('wrk', args, {
    core,
    onStdout: (chunk) => {
      out += chunk
    },
  })
  const killer = setTimeout(() => handle.stop(500), (spec.duration + 15) * 1000)
  const { code } = await handle.exited
  clearTimeout(killer)
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${handle.output().trim()}`)
  return { tool: 'wrk', ...parseWrk(out) }
}

/**
 * The latency of one request at a time over one keep-alive connection, `requests` times
 * after `warmup` unmeasured ones: p50 and p99 in ms. Low load: nothing ever queues.
 */
export async function sequentialLatency(url, { requests, warmup = 200, deadlineMs = 30_000 }) {
  assertLocal(url)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const target = new URL(url)
  const once = () =>
    new Promise((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, agent }, (res) => {
        res.on('end', () => resolve(res.statusCode))
        res.resume()
      })
      req.on('error', reject)
      req.end()
    })
  const deadline = Date.now() + deadlineMs
  let errors = 0
  let non2xx = 0
  for (let i = 0; i < warmup; i++) await once()
  samples.reset()
  const started = process.hrtime.bigint()
  let done = 0
  for (; done < requests && Date.now() < deadline; done++) {
    const t0 = process.hrtime.bigint()
    try {
      const status = await once()
      if (status < 200 || status > 299) non2xx++
    } catch {
      errors++
    }
    samples.record(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  agent.destroy()
  return summarize('node-seq', done, seconds, errors, non2xx)
}
