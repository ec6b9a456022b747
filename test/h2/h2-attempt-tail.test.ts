// An answer a node sent whole (END_STREAM) while cutover held its stream paused (a slow
// client), then a GOAWAY whose last stream id names the stream (it was processed) with an
// error code: node:http2 destroys the session on such a GOAWAY, and every stream still in
// it, the bytes still in the stream's buffer with them. The attempt failed as reset after
// the first piece, and the client got RST_STREAM INTERNAL_ERROR after part of an answer the
// node had sent whole (the h2 fuzz's "INTERNAL_ERROR cut after a node's GOAWAY naming the
// stream"). Once the node's END_STREAM came, nothing is left to hold back: the attempt hands
// on what its stream holds and ends. (With GOAWAY NO_ERROR the session stays until its
// streams end, and the tail used to wait for the client to read on; it now goes on at once too.)
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'
import t from 'tap'
import { FakeClock } from '../../src/clock.js'
import type { H2Address } from '../../src/config/types.js'
import { H2Attempt } from '../../src/h2/h2-attempt.js'
import type { AttemptUser } from '../../src/h2/node-attempt.js'
import { NodeSessionPool } from '../../src/h2/node-session-pool.js'
import { DATA, END_HEADERS, END_STREAM, goawayFrame, h2Frame, HEADERS, INTERNAL_ERROR, NO_ERROR, PROTOCOL_ERROR, startRawH2Node } from '../helpers/h2.js'
import { waitUntil } from '../helpers/wait.js'

const PIECE = 15_000
const PIECES = 4

const address = (port: number): H2Address => ({ url: `h2c://127.0.0.1:${port}`, tls: false, hostname: '127.0.0.1', port, authority: `127.0.0.1:${port}` })

for (const [label, code] of [
  ['INTERNAL_ERROR', INTERNAL_ERROR],
  ['PROTOCOL_ERROR', PROTOCOL_ERROR],
  ['NO_ERROR', NO_ERROR],
] as const)
  t.test(`a whole answer, then the node's GOAWAY (${label}) naming its stream: a paused attempt still hands on all of it`, async (t) => {
    const node = await startRawH2Node((s, f) => {
      if (f.type !== HEADERS) return
      const frames = [h2Frame(HEADERS, END_HEADERS, f.stream, Buffer.from([0x88]))] // :status 200 (static index 8)
      for (let i = 0; i < PIECES; i++) frames.push(h2Frame(DATA, i === PIECES - 1 ? END_STREAM : 0, f.stream, Buffer.alloc(PIECE, 0x61 + i)))
      // in the same write: GOAWAY naming the stream (it was processed) with an error code, on
      // which node:http2 destroys the session at once
      frames.push(goawayFrame(f.stream, code))
      s.write(Buffer.concat(frames))
    })
    const pool = new NodeSessionPool(address(node.port), { connectTimeout: 1000, maxSessions: 4, idleTimeout: 30_000, maxHeaderListSize: 65536 }, new FakeClock())
    t.teardown(async () => {
      pool.destroy()
      await node.close()
    })
    const got = { status: 0, bytes: 0, ended: false, failed: '' }
    const user: AttemptUser = {
      informational: () => undefined,
      response: (status: number, _h: OutgoingHttpHeaders) => {
        got.status = status
      },
      // a slow client: the first piece fills what it can take, and it never drains
      data: (chunk: Buffer) => {
        got.bytes += chunk.length
        attempt.pause()
      },
      trailers: (_h: IncomingHttpHeaders) => undefined,
      end: () => {
        got.ended = true
      },
      drain: () => undefined,
      failed: (kind, err) => {
        got.failed = `${kind}: ${err?.message}`
      },
      moved: () => undefined,
    }
    const attempt = new H2Attempt(pool, { ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': 'a' }, true, user)
    attempt.start()
    await waitUntil('the attempt over', () => got.ended || got.failed !== '', 5000)
    t.same(got, { status: 200, bytes: PIECE * PIECES, ended: true, failed: '' }, 'the whole answer, and its end')
  })
