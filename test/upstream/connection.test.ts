// A plain-TCP node connection reads into a reused buffer of its own that starts at one
// page and grows to 64 KiB once a read fills it (issue 10: a pool of connections carrying
// small answers holds 4 KiB each, not 64 KiB), and every byte arrives as the node sent it.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import type { NodeConfig } from '../../src/config/types.js'
import { type ConnectionUser, READ_FIRST, UpstreamConnection } from '../../src/upstream/connection.js'
import { READ_SIZE } from '../../src/upstream/read-buffers.js'
import { waitUntil } from '../helpers/wait.js'

function nodeConfig(port: number): NodeConfig {
  return { url: `http://127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, name: `127.0.0.1:${port}`, protocol: 'http:', hostname: '127.0.0.1', port, weight: 1 }
}

t.test('the read buffer starts at one page and grows once a read fills it', async (t) => {
  let peer: net.Socket | null = null
  const server = net.createServer((s) => {
    peer = s
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const hash = createHash('sha256')
  let got = 0
  const user: ConnectionUser = {
    onUpstreamConnect() {},
    onUpstreamData(_conn, chunk) {
      hash.update(chunk)
      got += chunk.length
    },
    onUpstreamEnd() {},
    onUpstreamDrain() {},
    onUpstreamClose() {},
  }
  const conn = new UpstreamConnection({ connectionClosed() {} }, nodeConfig((server.address() as net.AddressInfo).port), true)
  conn.user = user
  t.teardown(() => {
    conn.destroy()
    server.close()
  })
  await waitUntil('connected', () => conn.connected && peer !== null, 5000)
  t.equal(conn.readBufferSize, READ_FIRST, 'a new connection reads into one page')

  // a small answer: read whole, the buffer stays small
  peer!.write(Buffer.alloc(200, 'a'))
  await waitUntil('200 bytes read', () => got === 200, 5000)
  t.equal(conn.readBufferSize, READ_FIRST, 'a read that did not fill it keeps it small')

  // a large answer: the first read fills the page, the next ones read 64 KiB at once
  const big = randomBytes(1024 * 1024)
  const sent = createHash('sha256').update(Buffer.alloc(200, 'a')).update(big).digest('hex')
  peer!.write(big)
  await waitUntil('1 MiB read', () => got === 200 + big.length, 10_000)
  t.equal(conn.readBufferSize, READ_SIZE, 'grown after a full read')
  t.equal(hash.digest('hex'), sent, 'every byte as the node sent it')
})
