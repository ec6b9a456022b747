// A process held off its core, as a busy machine's scheduler or a long GC can hold it.
import net from 'node:net'

/** Holds the whole process (cutover with it) for ms: the event loop runs nothing meanwhile. */
export function holdCore(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // nothing: the event loop is held
  }
}

/** A raw HTTP/1.1 node that answers its connection's first request at once, then holds the process for ms. */
export async function answerThenHold(ms: number): Promise<{ port: number; held: () => number; close: () => Promise<void> }> {
  let held = 0
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      holdCore(ms)
      held++
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    held: () => held,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
