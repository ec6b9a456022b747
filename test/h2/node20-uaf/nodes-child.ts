// The h2 fuzz's nodes in a process of their own, for split.test.ts: the scripts are made again
// from the seed. Prints the nodes' ports (h2a, h2b, h1a, h1b, h1c) as a JSON line.
import { type FuzzNode, h1FuzzNode, h2FuzzNode, type Records } from '../h2-fuzz/nodes.js'
import { type ScriptedStream, scriptConnection } from '../h2-fuzz/script.js'

import { writeSync } from 'node:fs'
import http2 from 'node:http2'

if (process.env.CUTOVER_H2SPLIT_TRACE === '1') {
  // each close/respond/goaway written to fd 2 as it happens, between valgrind's reports (--log-fd=2)
  const trace = (what: string) => writeSync(2, `JS ${what}\n${(new Error().stack ?? '').split('\n').slice(2, 9).join('\n')}\n`)
  const server = http2.createServer()
  server.listen(0, '127.0.0.1', () => {
    const c = http2.connect(`http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`)
    const req = c.request({ ':path': '/' })
    req.on('error', () => undefined)
    server.once('stream', (st) => {
      for (const name of ['close', 'respond', 'additionalHeaders', 'sendTrailers'] as const) {
        // biome-ignore lint/suspicious/noExplicitAny: patching node:http2's prototypes for a trace
        let target: any = Object.getPrototypeOf(st)
        while (!Object.hasOwn(target, name)) target = Object.getPrototypeOf(target)
        const orig = target[name]
        target[name] = function (this: http2.ServerHttp2Stream, ...args: unknown[]) {
          trace(`${name} stream ${this.id} args ${JSON.stringify(args.map((a) => (typeof a === 'function' ? 'fn' : Buffer.isBuffer(a) ? `buf${a.length}` : a)))}`)
          return orig.apply(this, args)
        }
      }
      // biome-ignore lint/suspicious/noExplicitAny: as above
      let Session: any = Object.getPrototypeOf(st.session)
      while (!Object.hasOwn(Session, 'goaway')) Session = Object.getPrototypeOf(Session)
      const goaway = Session.goaway
      Session.goaway = function (this: http2.Http2Session, ...args: unknown[]) {
        trace(`goaway ${JSON.stringify(args)}`)
        return goaway.apply(this, args)
      }
      st.respond({ ':status': 200 }, { endStream: true })
      c.close()
      server.close()
    })
  })
  await new Promise((r) => server.once('close', r))
}

const SEED = Number(process.env.CUTOVER_H2FUZZ_SEED ?? 20261201)
const CONNS = Number(process.env.CUTOVER_H2FUZZ_CONNS ?? 100)
const scripts = new Map<number, ScriptedStream>()
for (let n = 0; n < CONNS; n++) for (const s of scriptConnection(SEED, n).streams) scripts.set(s.id, s)
const records: Records = { attempts: new Map(), collateral: new Set() }
const nodes: FuzzNode[] = await Promise.all([
  h2FuzzNode('h2a', scripts, records),
  h2FuzzNode('h2b', scripts, records),
  h1FuzzNode('h1a', scripts, records),
  h1FuzzNode('h1b', scripts, records),
  h1FuzzNode('h1c', scripts, records),
])
process.stdout.write(`${JSON.stringify(nodes.map((n) => n.port))}\n`)
process.on('SIGTERM', () => process.exit(0))
