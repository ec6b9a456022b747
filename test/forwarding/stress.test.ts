// Never lose or mangle a request: many connections at once, keep-alive, pipelined bursts,
// bodies of every size with a length or chunked, and answers of every size; each answer
// must be the one for its request, byte for byte. Seeded, so a failure replays.
import t from 'tap'
import { createHash } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { seededRandom } from '../../src/clock.js'
import { close, listen, node, startProxy } from './fixtures.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16)

/** The node: answers `id sha(body) length` followed by `pad` filler bytes, chunked or with a length. */
async function echoNode(): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const pad = Number(req.headers['x-pad'] ?? 0)
      const text = `${req.headers['x-id']} ${req.method} ${sha(body)} ${body.length}|` + 'p'.repeat(pad)
      if (req.headers['x-chunked'] === '1') {
        res.write(text.slice(0, 10))
        res.end(text.slice(10))
      } else {
        res.setHeader('content-length', Buffer.byteLength(text))
        res.end(text)
      }
    })
  })
  return { port: await listen(server), server }
}

interface Sent {
  id: string
  expect: string
}

/** One client connection: sends its requests (some pipelined), parses the answers in order. */
function client(port: number, random: () => number, n: number, idPrefix: string): Promise<{ sent: Sent[]; got: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const sent: Sent[] = []
    const got: string[] = []
    let buf = Buffer.alloc(0)
    let i = 0
    let inflight = 0
    const sendSome = () => {
      const burst = random() < 0.3 ? 3 : 1
      for (let k = 0; k < burst && i < n; k++, i++) {
        const id = `${idPrefix}-${i}`
        const kind = random()
        const size = kind < 0.4 ? 0 : Math.floor(random() ** 3 * 200_000)
        const body = Buffer.alloc(size, String.fromCharCode(97 + (i % 26)))
        const pad = Math.floor(random() ** 2 * 50_000)
        const chunkedAnswer = random() < 0.3 ? '1' : '0'
        const method = size === 0 ? 'GET' : 'POST'
        const chunked = size > 0 && random() < 0.5
        let head = `${method} /r/${id} HTTP/1.1\r\nHost: s\r\nX-Id: ${id}\r\nX-Pad: ${pad}\r\nX-Chunked: ${chunkedAnswer}\r\n`
        head += chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : size > 0 ? `Content-Length: ${size}\r\n\r\n` : '\r\n'
        socket.write(head)
        if (chunked) {
          for (let off = 0; off < size; off += 7000) {
            const part = body.subarray(off, off + 7000)
            socket.write(`${part.length.toString(16)}\r\n`)
            socket.write(part)
            socket.write('\r\n')
          }
          socket.write('0\r\n\r\n')
        } else if (size > 0) socket.write(body)
        sent.push({ id, expect: `${id} ${method} ${sha(body)} ${size}|` + 'p'.repeat(pad) })
        inflight++
      }
    }
    socket.on('connect', sendSome)
    socket.on('error', reject)
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        let body: Buffer
        let used: number
        const length = /\r\ncontent-length: (\d+)/i.exec(head)
        if (length) {
          const n = Number(length[1])
          if (buf.length < end + 4 + n) return
          body = buf.subarray(end + 4, end + 4 + n)
          used = end + 4 + n
        } else {
          // chunked: decode
          let pos = end + 4
          const parts: Buffer[] = []
          for (;;) {
            const le = buf.indexOf('\r\n', pos)
            if (le < 0) return
            const size = parseInt(buf.subarray(pos, le).toString('latin1'), 16)
            if (buf.length < le + 2 + size + 2) return
            if (size === 0) {
              pos = le + 4
              break
            }
            parts.push(buf.subarray(le + 2, le + 2 + size))
            pos = le + 2 + size + 2
          }
          body = Buffer.concat(parts)
          used = pos
        }
        got.push(body.toString('latin1'))
        buf = buf.subarray(used)
        inflight--
        if (i === n && inflight === 0) {
          socket.end()
          resolve({ sent, got })
          return
        }
        if (inflight === 0) sendSome()
      }
    })
  })
}

t.test('every answer is its request’s, byte for byte, under concurrency and pipelining', async (t) => {
  const a = await echoNode()
  const b = await echoNode()
  const p = await startProxy({ x: [node('x', a.port)], y: [node('y', b.port)], share: 30, proxy: { upstream_max_connections: 8 } })
  t.teardown(async () => {
    await p.close()
    await close(a.server)
    await close(b.server)
  })
  const random = seededRandom(42)
  const results = await Promise.all(Array.from({ length: 40 }, (_, c) => client(p.port, random, 25, `c${c}`)))
  let mismatches = 0
  for (const { sent, got } of results) {
    for (let i = 0; i < sent.length; i++) if (got[i] !== sent[i].expect) mismatches++
  }
  t.equal(
    results.reduce((n, r) => n + r.got.length, 0),
    1000,
    '1000 answers',
  )
  t.equal(mismatches, 0, 'no answer lost, swapped or mangled')
  t.equal(p.forwarder.inflight, 0)
  t.equal(p.sink.calls.filter((c) => c[0] === 'finished' && c[2] !== 200).length, 0, 'all 200')
})
