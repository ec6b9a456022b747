import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { seededRandom, systemClock } from '../../src/clock.js'
import { Forwarder } from '../../src/forwarding/forwarder.js'
import { ProxyServer } from '../../src/forwarding/proxy-server.js'
import { buildRoutingTable } from '../../src/routing/table.js'
import type { Config } from '../../src/config/types.js'
import { close, listen, node, proxyConfig, RecordingSink, silentLogger } from './fixtures.js'

// a self-signed certificate for CN=localhost, for tests only
const CERT = `-----BEGIN CERTIFICATE-----
MIIDCzCCAfOgAwIBAgIUY7ldgdnf5VNGFkkAm8f1xF0Q9QcwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjA1NDY1N1oYDzIxMjYx
MTAyMDU0NjU3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDB02bG7d7Q31Tm3HmIS2cKtyu3aL3au1qr2F8cbsso
SgjJGvx4anTLN5GUDiZfBfhyRd6T55KdFrP/2f+qnNDlOUFYcP93aNNU/oa1KjPz
eYehask8M6iig7refDo+03cdBo6U7FYGjCGW4EuLs/lQ0CVwBtE5i8DQaonvZ2NX
Kde9XQdDKyNp4dJTm9QS9G/IZIE2n2xo8rK+DFAPl+9vxEjYquBbQLz8gRhZw4iN
yLld6g5ugVEy3inHQ5TUBjD8HjsZQZrwLV7bxrXDM+zLxeMC22Y4aMQAwVyviinw
X1G1Id76SGD/5EfCK5XgeRg0sT7pg0d6Kx8QfsJQk7TFAgMBAAGjUzBRMB0GA1Ud
DgQWBBRgqkh3CZSM2/A/c0XVdbzbJVGMXjAfBgNVHSMEGDAWgBRgqkh3CZSM2/A/
c0XVdbzbJVGMXjAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQBy
bVWSiM29p4Bi5Sdb9e0SZrb0QPfXBQ8NmgOrg8T9I10MBs/1pQY2vZIkrcmSY7HN
OERzjRn5Cs1/rNHofGOHf0Xr1vzIVoIY4zekRHn0JtxaPO4yKImr+6zknDuuCTlV
LW09MXsaRdLxDuex2hlSQHyitIdUDY9iUC4wfN6IwtBQKTvvaA17TDfEE15O1H+r
wv8th/Bdbro6jiKmumqstweTDS6JlE6tdq6++TS/ov09iHvPHQVmw3Qnrxtz+3+t
aF1/Cgy0/6DV92WSmd2UoMDOmut5AkD3cUQduFZIGgKjFQ9SgXtDorAzTVV2tooe
V3Sem1z9zH4nPgH8rtdc
-----END CERTIFICATE-----
`
const KEY = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDB02bG7d7Q31Tm
3HmIS2cKtyu3aL3au1qr2F8cbssoSgjJGvx4anTLN5GUDiZfBfhyRd6T55KdFrP/
2f+qnNDlOUFYcP93aNNU/oa1KjPzeYehask8M6iig7refDo+03cdBo6U7FYGjCGW
4EuLs/lQ0CVwBtE5i8DQaonvZ2NXKde9XQdDKyNp4dJTm9QS9G/IZIE2n2xo8rK+
DFAPl+9vxEjYquBbQLz8gRhZw4iNyLld6g5ugVEy3inHQ5TUBjD8HjsZQZrwLV7b
xrXDM+zLxeMC22Y4aMQAwVyviinwX1G1Id76SGD/5EfCK5XgeRg0sT7pg0d6Kx8Q
fsJQk7TFAgMBAAECggEACXYHO0ibKrjsDQTQDd4YXoaIZMCBG+8vQtoh8mJaGlJa
0W42yq3vm4fP3FlAeDzzXqiYb8HK/03/ZUq/1xUmgTnlParuXWbJggmWi7tOo+DX
xQJQZlbjMWOauId51F1AIDOUvCI5JMKsVRAHv/79+XrfiPNcPSHcPJAmwX/bcoKr
ccPEBcCDyhSMjqcazv9iMeqcaqsNzzb1EuPzlM0kisOvn47vr2jqMiK02VjBjoBW
GTfBqcZOJxCnhu3ArfrUZgx44NCBrkk8bAVK1SVM62HwissptefWAhivq6uz0387
liZeSDM/Cz19+KCwyvV3D9ck5BBX5bofz0BaF+68YQKBgQD8V+lmvy2PwnhZHRBJ
/HHVDMAReZBXncuqcnfp3DOvh+EAQv4mnoua0WFu1hDg1WOWqv5dXZzVrJyqeTN4
K+RAoKLXfBzH7LnQ+LFV1nxbAVrRDpEfkyp/vB28CaH1/mXw1dEdB1OM7ICkJ3Hh
tInNEmisUTxUYA3tAS+hltj4OQKBgQDEomn2BVkVAbuwLJGqFvmWEUjceFwbagVR
nD4srrtzDJnenKwQ208iFZrSZykZk0WjQTd8IH/6GCgpeLGiPWshqZjDnvQhIm1+
5t4W06iZf5sr0t0AYMcyRJVm12mkw7cH7xWBKc+tYn211yvdpxKVNm7tFiNC9hnf
H7OIGFUo7QKBgFMDuM0MZ7i7iUwHu6wbWHd2UlltXIb2amIQdlKBFp/QW7zyTRn3
XoX4C82irrrIeJLAfh3JBidlOcT7SmtmRRjdv7SUKAO9ZQPSTMSoYxCtSWstF6ED
kR+ki0OpB5cdsfug28Jo/puF0mwubdCKzCqiu7y0nNxFHU+y7DCEp6xBAoGBAMIk
5d/9ycW+71RzvOKmSomLyVe9EpwSouvAC3dMklF2uJmeMRl3n3s0v6dMKb1RtmkJ
JEJPSGxi24yO2TwpzhPvgqBq2fm5J0kro04AbzAXWNr9GC2eYC7Wnnhq6ai/gIC5
446i/KThYONgbrQrmGJw2zcFK42atVKi1zzhYXvFAoGBAM/+YMIDKtMRgT8rI/rq
QwlDq3W0XcqNASYJPhqn/+w7oZXqzs1ccMvEI8z+85hbcnAH1/vhFfkFDLpANl0p
zT2mAL3LALh1CV045gX8WSj6fnBvTaUEubowTTFAOZKKkptTVAteew1PL267KJSf
8xD+UkEfuGhUqfaq0ZeKbM9x
-----END PRIVATE KEY-----
`

async function upstream(): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ proto: req.headers['x-forwarded-proto'], url: req.url, method: req.method }))
  })
  return { port: await listen(server), server }
}

/** A ProxyServer with TLS (the test certificate) in front of one upstream, torn down with the test. */
async function startTlsProxy(t: Test, over: Partial<Config['proxy']> = {}): Promise<{ port: number; app: ProxyServer }> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-tls-'))
  writeFileSync(join(dir, 'cert.pem'), CERT)
  writeFileSync(join(dir, 'key.pem'), KEY)
  const up = await upstream()
  const n = node('x', up.port)
  const proxy = proxyConfig({ tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, ...over })
  const forwarder = new Forwarder({
    proxy,
    router: { table: buildRoutingTable(0, { x: [n], y: [] }, () => true, { y: 0 }) },
    sink: new RecordingSink(),
    random: seededRandom(1),
    clock: systemClock,
    logger: silentLogger,
    https: true,
  })
  const app = new ProxyServer({ proxy, forwarder, logger: silentLogger })
  const { port } = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => {
    app.closeAllConnections()
    await app.close()
    await n.dispatcher.destroy()
    await close(up.server)
    rmSync(dir, { recursive: true, force: true })
  })
  return { port, app }
}

t.test('an HTTPS listener forwards with X-Forwarded-Proto https', async (t) => {
  const { port } = await startTlsProxy(t)
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(() => agent.close())
  const r = await request(`https://127.0.0.1:${port}/secure?a=1`, { dispatcher: agent })
  t.equal(r.statusCode, 200)
  t.same(await r.body.json(), { proto: 'https', url: '/secure?a=1', method: 'GET' })
})

t.test('an HTTPS listener closes a connection whose client never finished the handshake: silent (header_timeout) or gone (at once)', async (t) => {
  const { port, app } = await startTlsProxy(t, { header_timeout: 300 })
  /** a TCP connection that sends `first` (and ends its side when `end`); resolves when cutover closed it */
  const closedBy = (first: Buffer, end: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => (end ? s.end(first) : s.write(first)))
      s.on('error', () => undefined)
      s.resume()
      const timer = setTimeout(() => {
        s.destroy()
        reject(new Error('still open after 5 s'))
      }, 5000)
      s.on('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  // a TCP health check of a load balancer in front: connect, then FIN (once left in CLOSE-WAIT for ever)
  await closedBy(Buffer.alloc(0), true)
  // the start of a ClientHello's record, then nothing (once held until Node's 120 s handshake limit, then left open)
  await closedBy(Buffer.from([0x16, 0x03, 0x01, 0x00]), false)
  await closedBy(Buffer.alloc(0), false)
  t.equal(app.connections.size, 0, 'none became a client connection')
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  const r = await request(`https://127.0.0.1:${port}/after`, { dispatcher: agent })
  t.equal(r.statusCode, 200, 'the listener serves on')
  await r.body.dump()
  await agent.close()
})

t.test('server limits come from the config', async (t) => {
  const up = await upstream()
  const n = node('x', up.port)
  const proxy = proxyConfig({ max_header_size: 1024 })
  const forwarder = new Forwarder({
    proxy,
    router: { table: buildRoutingTable(0, { x: [n], y: [] }, () => true, { y: 0 }) },
    sink: new RecordingSink(),
    random: seededRandom(1),
    clock: systemClock,
    logger: silentLogger,
    https: false,
  })
  const app = new ProxyServer({ proxy: { ...proxy, max_connections: 7 }, forwarder, logger: silentLogger })
  const { port } = await app.listen({ host: '127.0.0.1', port: 0 })
  const agent = new Agent()
  t.teardown(async () => {
    await agent.close()
    app.closeAllConnections()
    await app.close()
    await n.dispatcher.destroy()
    await close(up.server)
  })
  t.equal(app.server.maxConnections, 7)
  let r = await request(`http://127.0.0.1:${port}/ok`, { dispatcher: agent, headers: { 'x-pad': 'a'.repeat(500) } })
  t.equal(r.statusCode, 200)
  await r.body.text()
  r = await request(`http://127.0.0.1:${port}/big`, { dispatcher: agent, headers: { 'x-pad': 'a'.repeat(2000) } })
  t.equal(r.statusCode, 431, 'a head over max_header_size is refused')
  await r.body.text()
})
