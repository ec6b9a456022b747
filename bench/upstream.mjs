// The fixed upstream every proxy forwards to, run as its own process (pinned to the load
// core): GET / answers 100 bytes, GET /64k answers 64 KiB, a POST is read and discarded
// and answered with 100 bytes, GET /status/ready answers 200 (cutover's active health
// check). It listens on --ports N ephemeral ports of 127.0.0.1 and prints them as one JSON
// line: {"ports":[...]}. It exits when its stdin closes, so it cannot outlive the bench.
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'

const SMALL = Buffer.alloc(100, 'a')
const LARGE = Buffer.alloc(64 * 1024, 'b')
const READY = Buffer.from('{"message":"ready"}')
const SMALL_HEAD = { 'content-type': 'text/plain', 'content-length': String(SMALL.length) }
const LARGE_HEAD = { 'content-type': 'application/octet-stream', 'content-length': String(LARGE.length) }
const READY_HEAD = { 'content-type': 'application/json', 'content-length': String(READY.length) }

/** The request handler: fixed bodies, no allocation per request beyond node's own. */
export function handle(req, res) {
  if (req.method === 'POST' || req.method === 'PUT') {
    req.on('end', () => {
      res.writeHead(200, SMALL_HEAD)
      res.end(SMALL)
    })
    req.resume()
    return
  }
  const url = req.url
  if (url === '/64k') {
    res.writeHead(200, LARGE_HEAD)
    res.end(LARGE)
  } else if (url === '/status/ready') {
    res.writeHead(200, READY_HEAD)
    res.end(READY)
  } else {
    res.writeHead(200, SMALL_HEAD)
    res.end(SMALL)
  }
}

/** Listen on `count` ephemeral ports of 127.0.0.1; resolves the servers and their ports. */
export async function startUpstream(count) {
  const servers = []
  for (let i = 0; i < count; i++) {
    const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, handle)
    server.headersTimeout = 0
    server.maxRequestsPerSocket = 0
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    servers.push(server)
  }
  return {
    ports: servers.map((s) => s.address().port),
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise((resolve) => {
              s.closeAllConnections()
              s.close(resolve)
            }),
        ),
      ),
  }
}

async function main() {
  const { values } = parseArgs({ options: { ports: { type: 'string', default: '2' } } })
  const upstream = await startUpstream(Number(values.ports))
  process.stdout.write(JSON.stringify({ ports: upstream.ports }) + '\n')
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
