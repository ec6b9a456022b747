// The flood guard's buckets, on given times (no clock, no sockets).
import t from 'tap'
import { FloodGuard, refusalOfSessionError, TokenBucket } from '../../src/h2/flood-guard.js'

t.test('a bucket allows its burst at once, then its rate', async (t) => {
  const b = new TokenBucket({ burst: 3, perSecond: 2 }, 0)
  t.same([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false])
  t.equal(b.take(400), false, '0.8 of a token after 400 ms')
  t.equal(b.take(500), true, 'a whole token after 500 ms')
  t.equal(b.take(500), false)
  // a long pause refills no more than the burst
  t.same([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)], [true, true, true, false])
})

t.test('the guard names what flooded', async (t) => {
  const g = new FloodGuard({ resets: { burst: 2, perSecond: 1 }, pings: { burst: 1, perSecond: 1 }, settings: { burst: 1, perSecond: 1 } }, 0)
  t.equal(g.reset(0), undefined)
  t.equal(g.reset(0), undefined)
  t.equal(g.reset(0), 'h2_rapid_reset')
  t.equal(g.ping(0), undefined)
  t.equal(g.ping(0), 'h2_ping_flood')
  t.equal(g.settings(0), undefined)
  t.equal(g.settings(0), 'h2_settings_flood')
  t.equal(g.ping(1000), undefined, 'a ping a second later is fine again')
})

t.test("nghttp2's session errors map to refusal reasons", async (t) => {
  t.equal(refusalOfSessionError({ code: 'ERR_HTTP2_ERROR', message: 'Too many CONTINUATION frames following a HEADER frame' }), 'h2_continuation_flood')
  t.equal(refusalOfSessionError({ code: 'ERR_HTTP2_ERROR', message: 'Flooding was detected in this HTTP/2 session, and it must be closed' }), 'h2_flood')
  t.equal(refusalOfSessionError({ code: 'ERR_HTTP2_ERROR', message: 'Protocol error' }), 'h2_protocol_error')
  t.equal(refusalOfSessionError(undefined), 'h2_protocol_error')
})
