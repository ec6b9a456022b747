// Nodes that accept WebSocket-style upgrades, and a client that opens one through cutover.
import http from 'node:http'
import net from 'node:net'
import { waitUntil } from './wait.js'

/** A node that accepts every upgrade, says its name, then echoes. */
export async function wsNode(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.end(name))
  server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${name}`)
    socket.pipe(socket)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** A WebSocket-style upgrade through the proxy: resolves once the node named itself. */
export async function openTunnel(proxyUrl: string): Promise<{ node: string; socket: net.Socket; closed: Promise<void> }> {
  const { port } = new URL(proxyUrl)
  const socket = net.connect(Number(port), '127.0.0.1')
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  socket.on('error', () => undefined)
  socket.write('GET /ws HTTP/1.1\r\nHost: kong.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  let text = ''
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
  await waitUntil('the upgrade answered', () => /\r\n\r\n(x1|x2|y1|y2)$/.test(text), 3000)
  return { node: text.slice(-2), socket, closed }
}
