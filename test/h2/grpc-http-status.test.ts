// A gRPC call a node answers with an HTTP error and no grpc-status (a balancer's or a
// server's 503 in front of the service): the client makes its status from the HTTP one
// (gRPC's http-grpc-status-mapping: 503 is UNAVAILABLE, 404 UNIMPLEMENTED), and cutover
// counts the call by that same status, for cutover_grpc_requests_total and for the gate's
// grpc_failures, not as UNKNOWN.
import * as grpc from '@grpc/grpc-js'
import t from 'tap'
import { startTestCutover } from '../helpers/cutover.js'
import { callUnary, echoClient } from '../helpers/grpc.js'
import { startH2Upstream } from '../helpers/h2.js'
import { metricValue } from '../helpers/wait.js'

for (const [status, code, name] of [
  [503, grpc.status.UNAVAILABLE, 'UNAVAILABLE'],
  [404, grpc.status.UNIMPLEMENTED, 'UNIMPLEMENTED'],
] as const) {
  t.test(`HTTP ${status} without grpc-status: the client gets ${name}, and it is counted as ${name}`, async (t) => {
    const node = await startH2Upstream('x', (stream) => {
      stream.on('data', () => undefined)
      stream.respond({ ':status': status, 'content-type': 'text/plain' })
      stream.end('no service here')
    })
    const c = await startTestCutover({ x: [`{ url: "http://127.0.0.1:1", h2: "${node.h2}" }`], y: [], proxy: '  h2c_listen: 127.0.0.1:0' })
    const client = echoClient(`127.0.0.1:${c.cutover.h2cAddress!.port}`)
    t.teardown(async () => {
      client.close()
      await c.cutover.close()
      await node.close()
    })
    const r = await callUnary(client, { n: 1 })
    t.equal(r.err?.code, code, `the client got ${r.err?.code}`)
    t.equal(await metricValue(c, `cutover_grpc_requests_total{pool="x",grpc_status="${name}"}`), 1)
    t.notOk(await metricValue(c, 'cutover_grpc_requests_total{pool="x",grpc_status="UNKNOWN"}'), 'not UNKNOWN')
  })
}
