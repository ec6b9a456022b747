// Nothing leaks when everything goes wrong at once: nodes that reset, stall, answer
// garbage or cut their answers; clients that leave mid-request. Afterwards every count is
// back to zero and every attempt the sink saw started also ended. Seeded.
import t from 'tap'
import net from 'node:net'
import { seededRandom } from '../../src/clock.js'
import { type RawServer, startRawServer } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'
import { node, startProxy } from './fixtures.js'

/** A raw node whose behaviour per request is drawn from random. */
function chaosNode(random: () => number): Promise<RawServer> {
  return startRawServer((s) => {
    let buf = ''
    s.on('data', (d) => {
      buf += d.toString('latin1')
      // answer each whole head (bodies in this test are small and come with it)
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const length = /content-length: (\d+)/i.exec(buf.slice(0, end))
        const total = end + 4 + (length ? Number(length[1]) : 0)
        if (buf.length < total) return
        buf = buf.slice(total)
        const r = random()
        if (r < 0.6) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        else if (r < 0.7) s.resetAndDestroy()
        else if (r < 0.75) s.write('garbage\r\n\r\n')
        else if (r < 0.8)
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort') // then silence
        else if (r < 0.85) setTimeout(() => s.destroy(), 5)
        else if (r < 0.9) s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')
        // else: never answers (request_timeout)
      }
    })
  })
}

t.test('counts return to zero and every attempt ends, whatever nodes and clients do', async (t) => {
  const random = seededRandom(7)
  const nodes = await Promise.all([chaosNode(random), chaosNode(random), chaosNode(random)])
  const upstream = [
    node('x', nodes[0].port, 1, { connectTimeout: 500, maxConnections: 4 }),
    node('x', nodes[1].port, 1, { connectTimeout: 500, maxConnections: 4 }),
    node('y', nodes[2].port, 1, { connectTimeout: 500, maxConnections: 4 }),
  ]
  const p = await startProxy({ x: upstream.slice(0, 2), y: upstream.slice(2), share: 30, proxy: { request_timeout: 300, retries: 2 }, allNodes: true })
  t.teardown(async () => {
    await p.close()
    await Promise.all(nodes.map((n) => n.close()))
  })
  let answered = 0
  // each client sends 10 requests, the next one on an answer or after 200 ms (so some are
  // pipelined behind a stalled one), leaves mid-request now and then, and gives up at 2 s
  const clients = Array.from(
    { length: 30 },
    (_, c) =>
      new Promise<void>((resolve) => {
        const s = net.connect(p.port, '127.0.0.1')
        s.on('error', () => undefined)
        s.on('close', () => resolve())
        const giveUp = setTimeout(() => s.destroy(), 2000)
        s.on('close', () => clearTimeout(giveUp))
        let sent = 0
        let timer: ReturnType<typeof setTimeout> | undefined
        const send = () => {
          clearTimeout(timer)
          if (s.destroyed) return
          if (sent++ >= 10) {
            timer = setTimeout(() => s.destroy(), 300)
            return
          }
          const post = random() < 0.3
          s.write(post ? `POST /c${c} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc` : `GET /c${c} HTTP/1.1\r\nHost: a\r\n\r\n`)
          if (random() < 0.05) setTimeout(() => s.destroy(), Math.floor(random() * 50))
          timer = setTimeout(send, 200)
        }
        s.on('data', () => {
          answered++
          send()
        })
        s.on('connect', send)
      }),
  )
  await Promise.all(clients)
  await waitUntil('nothing in flight', () => p.forwarder.inflight === 0 && upstream.every((n) => n.inflight === 0), 5000)
  t.ok(answered > 0, `${answered} answers read`)
  for (const n of upstream) {
    t.equal(n.dispatcher.waiting, 0, `${n.name}: nobody waiting`)
    t.ok(n.dispatcher.open <= 4, `${n.name}: ${n.dispatcher.open} connections open, cap 4`)
  }
  const count = (kind: string) => p.sink.calls.filter((c) => c[0] === kind).length
  t.equal(count('attemptEnded'), count('attemptStarted'), 'every attempt started also ended')
  t.ok(count('attemptFailed') > 0, 'failures happened')
  t.ok(count('finished') > 0)
})
