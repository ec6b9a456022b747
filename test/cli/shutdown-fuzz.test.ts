// A real cutover process (bin/cutover.js) stopped with SIGTERM at a seeded moment of mixed,
// hostile traffic, after seeded reloads (SIGHUP with other nodes, another split or a bad
// file; PUT /v1/split). Nodes answer as each request's path says: whole (Content-Length or
// chunked), slowly, stalled half-way, never, an endless event stream, reset or closed
// half-way, a WebSocket echo. Clients: HTTP/1.1 keep-alive and pipelined, HTTP/1.0 with and
// without keep-alive, slow readers, clients that half-close or vanish, WebSocket tunnels,
// h2 (prior knowledge on the proxy port, or ALPN on TLS and proxy.h2c_listen), and
// connections that ask nothing or half of something, on the proxy and control listeners.
// Rounds alternate a plain listener, a TLS one, and `workers: 2`.
//
// Checked: the process exits 0 within drain_timeout and a margin; every answer that reads
// whole is whole and the request's own; an answer cut by the drain reads as cut (short of
// its framing, or a reset where the close would be its end; over TLS such a close is not
// judged); no request reached a node twice, and every request body that reached a node
// whole is the client's; no socket of cutover's stays in CLOSE-WAIT (a client's FIN
// unheard) while the traffic runs.
//
// CI runs seed 20261130, 2 rounds (about 5 s each, one at a time). More, or another seed:
//   CUTOVER_SHUTDOWN_SEED=7 CUTOVER_SHUTDOWN_ROUNDS=30 npx tap --disable-coverage test/cli/shutdown-fuzz.test.ts
// The choices are the seed's; their timing is not, so a failure names the round's seed
// and what was read, to be replayed with CUTOVER_SHUTDOWN_SEED=<round seed> and 1 round.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { tempDir } from '../helpers/cutover.js'
import { freePort } from '../helpers/etcd.js'
import { tlsFiles } from '../helpers/h2.js'
import { api, BIN, run } from '../helpers/process.js'

const SEED = Number(process.env.CUTOVER_SHUTDOWN_SEED ?? 20261130)
const ROUNDS = Number(process.env.CUTOVER_SHUTDOWN_ROUNDS ?? 2)
const DRAIN_MS = 2000
/** beyond drain_timeout: the control listener's grace (500 ms) and the process's exit */
const EXIT_MARGIN_MS = 1500
/** clients at once */
const CLIENTS = 8
const MODES = ['plain', 'tls', 'workers'] as const
type Mode = (typeof MODES)[number]

/** p, or fallback once ms passed (the timer cleared either way: nothing left to hold the process) */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex')
const bodyOf = (n: number, seed: number) => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 31) & 0xff
  return b
}

/** One round's shared record: what reached the nodes, what went wrong. */
class Round {
  readonly seen = new Map<string, string[]>()
  readonly problems: string[] = []
  sigtermAt = 0
  stopping = false
  next = 0
  readonly random: () => number
  constructor(readonly seed: number) {
    this.random = seededRandom(seed)
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]
  }
  problem(what: string): void {
    this.problems.push(what)
  }
}

/** a node: each request's path says how it is answered */
async function startNode(round: Round, name: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const id = String(req.headers['x-id'] ?? '')
    if (id !== '') round.seen.set(id, [...(round.seen.get(id) ?? []), `${name} ${req.method} ${req.url}`])
    const url = new URL(req.url ?? '/', 'http://a')
    const n = Number(url.searchParams.get('n') ?? 1000)
    const body = bodyOf(n, Number(id.split('-').pop() ?? 0))
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const got = Buffer.concat(chunks)
      if (req.headers['x-body-sha'] !== undefined && sha(got) !== req.headers['x-body-sha'])
        round.problem(`node ${name}: the body of ${id} reached it whole and not the client's (${got.length} bytes)`)
      const head = { 'x-sha': sha(body), 'x-id': id }
      const socket = req.socket
      switch (url.pathname) {
        case '/ok':
          res.writeHead(200, { ...head, 'content-length': n })
          res.end(body)
          break
        case '/chunked':
          res.writeHead(200, head)
          res.write(body.subarray(0, n >> 1))
          setTimeout(() => res.end(body.subarray(n >> 1)), 5)
          break
        case '/slow': {
          res.writeHead(200, { ...head, 'content-length': n })
          let off = 0
          const step = () => {
            if (res.destroyed) return
            const k = Math.min(n - off, Math.ceil(n / 8))
            res.write(body.subarray(off, off + k))
            off += k
            if (off >= n) res.end()
            else setTimeout(step, 100)
          }
          step()
          break
        }
        case '/stall':
          res.writeHead(200, { ...head, 'content-length': n })
          res.write(body.subarray(0, n >> 1))
          break
        case '/never':
          break
        case '/sse': {
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          const timer = setInterval(() => res.write('data: x\n\n'), 100)
          res.on('close', () => clearInterval(timer))
          break
        }
        case '/reset':
        case '/half':
          res.writeHead(200, { ...head, 'content-length': n })
          res.write(body.subarray(0, n >> 1))
          setTimeout(() => (url.pathname === '/reset' ? socket.resetAndDestroy() : socket.end()), 20)
          break
        default:
          res.writeHead(404)
          res.end()
      }
    })
  })
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const id = String(req.headers['x-id'] ?? '')
    round.seen.set(id, [...(round.seen.get(id) ?? []), `${name} upgrade`])
    socket.on('error', () => undefined)
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n')
    if (head.length > 0) socket.write(head)
    socket.pipe(socket)
  })
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

const PATHS = ['/ok', '/ok', '/ok', '/chunked', '/slow', '/stall', '/never', '/sse', '/reset', '/half', '/ok?n=300000']

interface Req {
  id: string
  method: string
  path: string
  body: Buffer | null
}

function newRequest(round: Round): Req {
  const path = round.pick(PATHS)
  const id = `${round.seed}-${round.next++}`
  const method = round.random() < 0.25 ? 'POST' : 'GET'
  const query = path.includes('?') ? '' : `?n=${Math.floor(round.random() * 20000) + 1}`
  const body = method === 'POST' ? bodyOf(Math.floor(round.random() * 50000), round.next) : null
  return { id, method, path: path + query, body }
}

interface Answer {
  status: number
  headers: Record<string, string>
  body: Buffer[]
  length: number
  /** the body is read until the close */
  untilClose: boolean
}

/** An answer read whole by its framing (or ended by the close: endedBy says how) must be the node's and the request's own. */
function judge(round: Round, kind: string, req: Req, a: Answer, endedBy: 'framed' | 'fin' | 'reset'): void {
  const where = `round ${round.seed} ${kind} ${req.id} ${req.method} ${req.path}`
  const closeIsTheEnd = a.untilClose && endedBy !== 'framed'
  // over TLS a close without close_notify is for the client to see; a reset cannot be made
  if (closeIsTheEnd && (endedBy === 'reset' || kind.includes('tls'))) return
  if (a.headers['content-type'] === 'text/event-stream') {
    round.problem(`${where}: an endless event stream read as ended (${endedBy})`)
    return
  }
  if (a.status !== 200 || a.headers['x-sha'] === undefined) return
  if (a.headers['x-id'] !== req.id) round.problem(`${where}: the answer of ${a.headers['x-id']}`)
  else if (sha(Buffer.concat(a.body)) !== a.headers['x-sha'])
    round.problem(`${where}: read as whole (${a.untilClose ? `until the close, a ${endedBy}` : 'by its framing'}) with ${a.length} bytes that are not the node's`)
}

/** Responses off a raw HTTP/1.x connection, one at a time. */
class H1Reader {
  buf: Buffer = Buffer.alloc(0)
  cur: (Answer & { want?: number; chunkLeft?: number }) | null = null
  upgraded = false

  push(data: Buffer, method: string | undefined): Answer[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data])
    const out: Answer[] = []
    for (;;) {
      if (this.cur === null) {
        const end = this.buf.indexOf('\r\n\r\n')
        if (end < 0) return out
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n')
        this.buf = this.buf.subarray(end + 4)
        const status = Number(lines[0].split(' ')[1])
        const headers: Record<string, string> = {}
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':')
          headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
        }
        if (status >= 100 && status < 200 && status !== 101) continue
        const a: Answer & { want?: number; chunkLeft?: number } = { status, headers, body: [], length: 0, untilClose: false }
        if (status === 101) {
          this.upgraded = true
          out.push(a)
          return out
        }
        if (headers['transfer-encoding']?.includes('chunked')) a.chunkLeft = -1
        else if (headers['content-length'] !== undefined) a.want = Number(headers['content-length'])
        else if (status === 204 || status === 304 || method === 'HEAD') a.want = 0
        else a.untilClose = true
        this.cur = a
      }
      const a = this.cur
      if (a.untilClose) {
        a.body.push(this.buf)
        a.length += this.buf.length
        this.buf = Buffer.alloc(0)
        return out
      }
      if (a.want !== undefined) {
        const k = Math.min(a.want - a.length, this.buf.length)
        a.body.push(this.buf.subarray(0, k))
        a.length += k
        this.buf = this.buf.subarray(k)
        if (a.length < a.want) return out
      } else if (!this.#chunks(a)) return out
      out.push(a)
      this.cur = null
    }
  }

  /** true once the last chunk and trailers are read */
  #chunks(a: Answer & { chunkLeft?: number }): boolean {
    for (;;) {
      const eol = this.buf.indexOf('\r\n')
      if (a.chunkLeft === -1 || a.chunkLeft === -2) {
        if (eol < 0) return false
        const line = this.buf.subarray(0, eol)
        this.buf = this.buf.subarray(eol + 2)
        if (a.chunkLeft === -2) {
          if (line.length === 0) return true
          continue
        }
        const size = Number.parseInt(line.toString('latin1'), 16)
        a.chunkLeft = size === 0 ? -2 : size
        continue
      }
      const left = a.chunkLeft ?? 0
      if (this.buf.length < left + 2) return false
      a.body.push(this.buf.subarray(0, left))
      a.length += left
      this.buf = this.buf.subarray(left + 2)
      a.chunkLeft = -1
    }
  }
}

const H1_KINDS = ['keep-alive', 'keep-alive', 'pipeline', 'http1.0', 'http1.0-keep-alive', 'slow-reader', 'half-close', 'vanish', 'websocket'] as const

/** One HTTP/1.x client connection, as the round picks it; resolves when it is closed. */
function h1Client(round: Round, port: number, overTls: boolean, ports: Set<number>): Promise<void> {
  const behaviour = round.pick(H1_KINDS)
  const kind = `h1/${behaviour}${overTls ? '/tls' : ''}`
  const version = behaviour.startsWith('http1.0') ? 0 : 1
  const max = behaviour === 'http1.0' ? 1 : 1 + Math.floor(round.random() * 6)
  const vanishAfter = round.random() * 300
  const slowFor = 1000 + round.random() * 3000
  const socket: net.Socket = overTls ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) : net.connect(port, '127.0.0.1')
  const reader = new H1Reader()
  const pending: Req[] = []
  let sent = 0
  let endedBy: 'fin' | 'reset' = 'fin'
  const send = () => {
    if (round.stopping) return
    const req = newRequest(round)
    let head: string
    if (behaviour === 'websocket') head = `GET /ws HTTP/1.1\r\nhost: a\r\nx-id: ${req.id}\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n`
    else {
      const keepAlive = behaviour !== 'http1.0' && sent < max - 1
      head = `${req.method} ${req.path} HTTP/1.${version}\r\nhost: a\r\nx-id: ${req.id}\r\n`
      if (version === 0 && keepAlive) head += 'connection: keep-alive\r\n'
      if (version === 1 && !keepAlive) head += 'connection: close\r\n'
      if (req.body !== null) head += `content-length: ${req.body.length}\r\nx-body-sha: ${sha(req.body)}\r\n`
      head += '\r\n'
    }
    socket.write(req.body === null || behaviour === 'websocket' ? head : Buffer.concat([Buffer.from(head, 'latin1'), req.body]))
    pending.push(req)
    sent++
  }
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') endedBy = 'reset'
  })
  socket.once(overTls ? 'secureConnect' : 'connect', () => {
    ports.add(socket.localPort ?? 0)
    if (behaviour === 'pipeline') for (let i = 0; i < Math.min(3, max); i++) send()
    else send()
    if (behaviour === 'half-close') socket.end()
    if (behaviour === 'vanish') setTimeout(() => socket.destroy(), vanishAfter)
    if (behaviour === 'slow-reader') {
      socket.pause()
      setTimeout(() => socket.resume(), slowFor)
    }
    if (behaviour === 'websocket') {
      const timer = setInterval(() => {
        if (reader.upgraded && !socket.destroyed) socket.write('ping\n')
      }, 50)
      socket.on('close', () => clearInterval(timer))
    }
  })
  socket.on('data', (data: Buffer) => {
    if (reader.upgraded) return
    for (const a of reader.push(data, pending[0]?.method)) {
      const req = pending.shift()
      if (req === undefined) {
        round.problem(`round ${round.seed} ${kind}: an answer (${a.status}) to no request`)
        continue
      }
      if (a.status === 101) continue
      judge(round, kind, req, a, 'framed')
      if (a.headers.connection === 'close' || (version === 0 && a.headers.connection !== 'keep-alive')) {
        socket.end()
        continue
      }
      if (sent < max && (behaviour === 'pipeline' || pending.length === 0)) send()
    }
  })
  return new Promise((resolve) => {
    socket.on('close', () => {
      const a = reader.cur
      if (a?.untilClose === true && pending[0] !== undefined) judge(round, kind, pending[0], a, endedBy)
      resolve()
    })
  })
}

/** One h2 client session of 1-8 streams; resolves when it is closed. */
function h2Client(round: Round, port: number, overTls: boolean, ports: Set<number>): Promise<void> {
  const behaviour = round.pick(['streams', 'streams', 'slow-reader', 'vanish'] as const)
  const kind = `h2/${behaviour}${overTls ? '/tls' : ''}`
  const session = http2.connect(`${overTls ? 'https' : 'http'}://127.0.0.1:${port}`, overTls ? { rejectUnauthorized: false } : {})
  session.on('error', () => undefined)
  session.on('connect', () => ports.add(session.socket.localPort ?? 0))
  let vanished = false
  let open = 0
  const streams = 1 + Math.floor(round.random() * 8)
  for (let i = 0; i < streams && !round.stopping; i++) {
    const req = newRequest(round)
    const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, 'x-id': req.id }
    if (req.body !== null) headers['x-body-sha'] = sha(req.body)
    const stream = session.request(headers, { endStream: req.body === null })
    open++
    if (req.body !== null) stream.end(req.body)
    let answer: Answer | null = null
    let ended = false
    stream.on('response', (h) => {
      answer = { status: Number(h[':status']), headers: h as Record<string, string>, body: [], length: 0, untilClose: false }
    })
    stream.on('data', (d: Buffer) => {
      answer?.body.push(d)
      if (answer !== null) answer.length += d.length
    })
    if (behaviour === 'slow-reader') {
      stream.pause()
      setTimeout(() => stream.resume(), 1000 + round.random() * 3000)
    }
    stream.on('end', () => (ended = true))
    stream.on('error', () => undefined)
    stream.on('close', () => {
      open--
      // only a stream ended by END_STREAM, not reset, reads as whole
      if (!vanished && answer !== null && ended && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) judge(round, kind, req, answer, 'framed')
      if (open === 0) session.close()
    })
  }
  if (behaviour === 'vanish')
    setTimeout(() => {
      vanished = true
      session.destroy()
    }, round.random() * 500)
  if (open === 0) session.close()
  return new Promise((resolve) => session.on('close', () => resolve()))
}

/** Connections that ask nothing, or half of something; destroyed at the end. */
function lurkers(ports: number[]): net.Socket[] {
  const sockets: net.Socket[] = []
  for (const [port, bytes] of ports.flatMap((p) => [
    [p, ''],
    [p, 'GET / HTTP/1.1\r\nho'],
    [p, 'PRI * HTTP/2.0\r\n'],
  ])) {
    const socket = net.connect(port as number, '127.0.0.1')
    socket.on('error', () => undefined)
    socket.resume()
    if (bytes !== '') socket.write(bytes as string)
    sockets.push(socket)
  }
  return sockets
}

/** cutover's sockets (of pids) in CLOSE-WAIT whose peer is one of the clients' ports, as `ss` shows them; [] where there is no ss. */
function closeWait(pids: number[], clients: Set<number>): string[] {
  let out: string
  try {
    out = execFileSync('ss', ['-tanpH', 'state', 'close-wait'], { encoding: 'utf8' })
  } catch {
    return []
  }
  return out
    .split('\n')
    .filter((line) => pids.some((pid) => line.includes(`pid=${pid},`)))
    .filter((line) => clients.has(Number(line.trim().split(/\s+/)[3]?.split(':').pop())))
    .map((line) => line.replace(/\s+/g, ' '))
}

async function runRound(seed: number, mode: Mode): Promise<{ problems: string[]; took: number; tally: string }> {
  const round = new Round(seed)
  const nodes = await Promise.all(['x1', 'x2', 'y1', 'y2'].map((name) => startNode(round, name)))
  const dir = tempDir()
  const path = join(dir, 'c.yaml')
  const files = tlsFiles()
  const h2cPort = await freePort()
  const config = (x: string[], y: string[], requestTimeout = '3s') =>
    `proxy: { listen: 127.0.0.1:0, drain_timeout: ${DRAIN_MS}ms, request_timeout: ${requestTimeout}, retries: 1, workers: ${mode === 'workers' ? 2 : 1}${
      mode === 'tls' ? `, tls: { cert: ${files.cert}, key: ${files.key} }, h2c_listen: 127.0.0.1:${h2cPort}` : ''
    } }
control: { listen: 127.0.0.1:0, token: "\${TEST_TOKEN}" }
state: { path: ${join(dir, 'state.json')} }
split: { y: 50 }
pools:
  x: { nodes: [${x.join(', ')}] }
  y: { nodes: [${y.join(', ')}] }
log: { level: info }
`
  writeFileSync(path, config([nodes[0].url, nodes[1].url], [nodes[2].url]))
  const c = await run(path)
  const proxyPort = Number(new URL(c.proxyUrl).port)
  const controlPort = Number(new URL(c.controlUrl).port)
  let exited = false
  void c.exited.then(() => (exited = true))
  const clientPorts = new Set<number>()
  const clients: Array<Promise<void>> = []
  const client = () => {
    const h2 = round.random() < 0.3
    if (!h2) return h1Client(round, proxyPort, mode === 'tls', clientPorts)
    const h2c = mode === 'tls' && round.random() < 0.5
    return h2Client(round, h2c ? h2cPort : proxyPort, mode === 'tls' && !h2c, clientPorts)
  }
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(
      (async () => {
        while (!round.stopping && !exited) await client()
      })(),
    )
  }
  // reloads, then SIGTERM, at the seed's moments
  const traffic = 800 + round.random() * 1700
  const reloads = Math.floor(round.random() * 3)
  const started = performance.now()
  for (let i = 0; i < reloads; i++) {
    await new Promise((resolve) => setTimeout(resolve, (traffic / (reloads + 1)) * 0.9))
    const what = round.pick(['nodes', 'split', 'bad', 'api'] as const)
    if (what === 'api') await api(c, 'PUT', '/v1/split', { y: Math.floor(round.random() * 101) })
    else {
      const x = round.random() < 0.5 ? [nodes[0].url] : [nodes[1].url, nodes[0].url]
      const y = round.random() < 0.5 ? [nodes[3].url] : [nodes[2].url, nodes[3].url]
      writeFileSync(path, what === 'bad' ? 'proxy: [not a config' : what === 'nodes' ? config(x, y, round.pick(['1s', '3s'])) : config([nodes[0].url, nodes[1].url], [nodes[2].url]))
      c.child.kill('SIGHUP')
    }
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, traffic - (performance.now() - started))))
  // a client's FIN cutover never read: seen twice, 300 ms apart (a close in progress is not one)
  const pids = [c.child.pid ?? 0, ...(mode === 'workers' ? childPids(c.child.pid ?? 0) : [])]
  const first = closeWait(pids, clientPorts)
  if (first.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 300))
    const again = closeWait(pids, clientPorts)
    for (const line of first.filter((l) => again.includes(l))) round.problem(`round ${seed}: a client's socket left in CLOSE-WAIT: ${line}`)
  }
  const lurking = lurkers(mode === 'tls' ? [proxyPort, controlPort, h2cPort] : [proxyPort, controlPort])
  await new Promise((resolve) => setTimeout(resolve, 100))
  round.stopping = true
  round.sigtermAt = performance.now()
  c.child.kill('SIGTERM')
  const code = await within(c.exited, DRAIN_MS + 10_000, 'still running')
  const took = performance.now() - round.sigtermAt
  if (code === 'still running') {
    c.child.kill('SIGKILL')
    await c.exited
  }
  if (code !== 0) round.problem(`round ${seed}: exit ${code}`)
  if (took > DRAIN_MS + EXIT_MARGIN_MS) round.problem(`round ${seed}: exited ${Math.round(took)} ms after SIGTERM (drain_timeout ${DRAIN_MS} ms)`)
  for (const s of lurking) s.destroy()
  await within(Promise.all(clients), 5000, undefined)
  for (const [id, where] of round.seen) if (where.length > 1) round.problem(`round ${seed}: request ${id} reached nodes ${where.length} times: ${where.join('; ')}`)
  await Promise.all(nodes.map((n) => n.close()))
  return { problems: round.problems, took, tally: `${round.next} requests` }
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

t.test(
  `SIGTERM amid hostile mixed traffic: exit within drain_timeout, answers whole or visibly cut, nothing sent twice (seed ${SEED}, ${ROUNDS} rounds)`,
  { skip: !existsSync(new URL('../../dist/cli.js', import.meta.url)) && 'needs a build (npm run build)' },
  async (t) => {
    t.ok(existsSync(BIN))
    const random = seededRandom(SEED)
    for (let i = 0; i < ROUNDS; i++) {
      const seed = Math.floor(random() * 2 ** 31)
      const mode = MODES[(SEED + i) % MODES.length]
      const r = await runRound(seed, mode)
      t.same(r.problems, [], `round ${i} (seed ${seed}, ${mode}): ${r.tally}, exit ${Math.round(r.took)} ms after SIGTERM`)
    }
  },
)
