// The gRPC health probe against a real @grpc/grpc-js server implementing grpc.health.v1.Health/Check.
import * as grpc from '@grpc/grpc-js'
import t from 'tap'
import { systemClock } from '../../src/clock.js'
import type { ActiveHealthConfig, NodeConfig } from '../../src/config/types.js'
import { grpcProbe, healthCheckRequest, servingStatus } from '../../src/health/grpc-probe.js'
import type { ProbeResult } from '../../src/health/probe-state.js'
import { Prober } from '../../src/health/prober.js'
import { UpstreamNode } from '../../src/upstream/node.js'
import { closedPort } from '../helpers/upstream.js'
import { waitUntil } from '../helpers/wait.js'

/** HealthCheckRequest's service field, read from the protobuf bytes. */
function serviceOf(bytes: Buffer): string {
  return bytes.length === 0 ? '' : bytes.subarray(2, 2 + bytes[1]).toString()
}

async function healthServer(statusOf: (service: string) => number | 'missing'): Promise<{ port: number; asked: string[]; close(): void }> {
  const asked: string[] = []
  const server = new grpc.Server()
  server.addService(
    {
      check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (status: number) => Buffer.from([0x08, status]),
        responseDeserialize: (b: Buffer) => b[1],
      },
    },
    {
      check(call: grpc.ServerUnaryCall<Buffer, number>, cb: grpc.sendUnaryData<number>) {
        const service = serviceOf(call.request)
        asked.push(service)
        const status = statusOf(service)
        if (status === 'missing') cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' })
        else cb(null, status)
      },
    },
  )
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))))
  return { port, asked, close: () => server.forceShutdown() }
}

function node(h2Port: number | undefined): UpstreamNode {
  const config: NodeConfig = { url: 'http://127.0.0.1:1', origin: 'http://127.0.0.1:1', name: 'n1', protocol: 'http:', hostname: '127.0.0.1', port: 1, weight: 1 }
  if (h2Port !== undefined) config.h2 = { url: `h2c://127.0.0.1:${h2Port}`, tls: false, hostname: '127.0.0.1', port: h2Port, authority: `127.0.0.1:${h2Port}` }
  return new UpstreamNode('x', config, { connectTimeout: 1000 })
}

const config = (service = ''): ActiveHealthConfig => ({ path: '/status/ready', type: 'grpc', grpc_service: service, interval: 2000, timeout: 1000, healthy_threshold: 1, unhealthy_threshold: 1 })
const probe = grpcProbe(systemClock)
const run = (n: UpstreamNode, c: ActiveHealthConfig) => probe(n, c, new AbortController().signal)

t.test('the messages, encoded and read by hand', async (t) => {
  t.same([...healthCheckRequest('')], [0, 0, 0, 0, 0])
  t.same([...healthCheckRequest('ab')], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62])
  t.equal(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1)
  t.equal(servingStatus(Buffer.from([0, 0, 0, 0, 0])), 0, 'an empty message is UNKNOWN')
  t.equal(servingStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 1])), undefined, 'a compressed message cannot be read')
  t.equal(servingStatus(Buffer.from([0, 0, 0, 0, 9, 0x08])), undefined, 'a short message cannot be read')
})

t.test('SERVING is healthy; NOT_SERVING and an unknown service are not, with the reason', async (t) => {
  const server = await healthServer((service) => (service === '' ? 1 : service === 'shop.Cart' ? 2 : 'missing'))
  t.teardown(() => server.close())
  const n = node(server.port)
  t.match(await run(n, config()), { ok: true, status: 200 })
  t.match(await run(n, config('shop.Cart')), { ok: false, error: 'NOT_SERVING' })
  t.match(await run(n, config('nope')), { ok: false, error: 'grpc-status NOT_FOUND' })
  t.same(server.asked, ['', 'shop.Cart', 'nope'])
})

t.test('no h2 address, nothing listening, or too slow: unhealthy with the reason', async (t) => {
  t.match(await run(node(undefined), config()), { ok: false, error: 'no h2 address for a grpc probe' })
  t.match(await run(node(await closedPort()), config()), { ok: false, error: 'connection refused' })
  const abort = new AbortController()
  const server = await healthServer(() => 1)
  t.teardown(() => server.close())
  abort.abort(new Error('timeout'))
  t.match(await probe(node(server.port), config(), abort.signal), { ok: false, error: 'timeout after 1000ms' })
})

t.test("the prober's default probe loads the gRPC probe on its first gRPC check (issue 10) and it answers", async (t) => {
  const server = await healthServer((service) => (service === '' ? 1 : 2))
  t.teardown(() => server.close())
  const results: ProbeResult[] = []
  const prober = new Prober({ clock: systemClock, onResult: (_n, r) => results.push(r) })
  t.teardown(() => prober.stop())
  prober.setNodes([node(server.port)])
  prober.setConfig({ ...config(), interval: 60_000 })
  prober.start()
  const first = await waitUntil('the first gRPC probe', () => results[0], 5000)
  t.match(first, { ok: true, status: 200 })
  t.same(server.asked, [''])
})
