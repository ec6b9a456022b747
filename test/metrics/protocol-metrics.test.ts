// The protocol and gRPC series (issue 12): cutover_protocol_requests_total and cutover_grpc_requests_total.
import t from 'tap'
import { Metrics } from '../../src/metrics/metrics.js'

t.test('requests count by protocol; gRPC calls by grpc-status name; SPEC labels of cutover_requests_total unchanged', async (t) => {
  const metrics = new Metrics({}, { processMetrics: false })
  metrics.finished('x', 200, 1)
  metrics.finished('y', 200, 1, 'h2')
  metrics.finished('y', 200, 1, 'h2', 14)
  metrics.finished('y', 200, 1, 'h2', 14)
  metrics.finished('y', 200, 1, 'h2', 0)
  metrics.finished('x', 200, 1, 'h2', -1)
  metrics.refused('h2_rapid_reset')
  const { body } = await metrics.render()
  t.match(body, /cutover_protocol_requests_total\{pool="x",protocol="http1"\} 1\n/)
  t.match(body, /cutover_protocol_requests_total\{pool="x",protocol="h2"\} 1\n/)
  t.match(body, /cutover_protocol_requests_total\{pool="y",protocol="h2"\} 4\n/)
  t.match(body, /cutover_grpc_requests_total\{pool="y",grpc_status="UNAVAILABLE"\} 2\n/)
  t.match(body, /cutover_grpc_requests_total\{pool="y",grpc_status="OK"\} 1\n/)
  t.notMatch(body, /cutover_grpc_requests_total\{pool="x"/)
  t.match(body, /cutover_requests_total\{pool="y",code="2xx"\} 4\n/)
  t.notMatch(body, /cutover_requests_total\{[^}]*(protocol|grpc)/)
  t.match(body, /cutover_requests_refused_total\{reason="h2_rapid_reset"\} 1\n/)
  t.match(body, /cutover_requests_refused_total\{reason="h2_ping_flood"\} 0\n/)
})
