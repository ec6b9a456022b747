import t from 'tap'
import { CHUNK_ERROR, ChunkedDecoder } from '../../src/http1/index.js'

function decodeAll(input: string, split = 0) {
  const d = new ChunkedDecoder()
  const buf = Buffer.from(input, 'latin1')
  const parts = split > 0 ? Array.from({ length: Math.ceil(buf.length / split) }, (_, i) => buf.subarray(i * split, (i + 1) * split)) : [buf]
  let consumed = 0
  const data: Buffer[] = []
  let last = { consumed: 0, data: [] as Buffer[], done: false, error: null as string | null }
  for (const p of parts) {
    last = d.push(p)
    consumed += last.consumed
    data.push(...last.data)
    if (last.done || last.error) break
  }
  return { consumed, body: Buffer.concat(data).toString('latin1'), done: last.done, error: last.error, trailers: d.trailers }
}

t.test('chunks decode, whole or a byte at a time', async (t) => {
  const body = '5\r\nhello\r\n6;name=value;q="a \\"b\\""\r\n world\r\n0\r\n\r\n'
  for (const split of [0, 1, 2, 3, 7]) {
    const r = decodeAll(body + 'NEXT', split)
    t.equal(r.body, 'hello world', `split ${split}`)
    t.equal(r.done, true)
    t.equal(r.error, null)
    if (split === 0) t.equal(r.consumed, body.length, 'stops at the body end')
  }
})

t.test('trailers are kept', async (t) => {
  const r = decodeAll('3\r\nabc\r\n0\r\nX-Sum: 12 \r\nX-Other:v\r\n\r\n', 2)
  t.equal(r.done, true)
  t.same(r.trailers, ['X-Sum', '12', 'X-Other', 'v'])
  t.equal(r.body, 'abc')
})

t.test('hex sizes in any case', async (t) => {
  t.equal(decodeAll(`A\r\n${'x'.repeat(10)}\r\na\r\n${'y'.repeat(10)}\r\n0\r\n\r\n`).body.length, 20)
})

t.test('bad framing is refused with the reason', async (t) => {
  const cases: Array<[string, string]> = [
    ['x\r\n', CHUNK_ERROR.badSize],
    ['-1\r\n', CHUNK_ERROR.badSize],
    ['+1\r\n', CHUNK_ERROR.badSize],
    [' 1\r\n', CHUNK_ERROR.badSize],
    ['1 \r\na\r\n', CHUNK_ERROR.badSize],
    ['\r\n', CHUNK_ERROR.badSize],
    ['0x1\r\n', CHUNK_ERROR.badSize],
    ['1\na\r\n', CHUNK_ERROR.badSize],
    ['1\r\rb\r\n', CHUNK_ERROR.bareLineEnd],
    ['ffffffffffffffffff\r\n', CHUNK_ERROR.sizeOverflow],
    ['1\r\nab\r\n', CHUNK_ERROR.noCrlfAfterData],
    ['1\r\na\n0\r\n\r\n', CHUNK_ERROR.noCrlfAfterData],
    ['1;\x01\r\na\r\n', CHUNK_ERROR.badExtension],
    ['1; a=b\r\na\r\n', CHUNK_ERROR.badExtension],
    ['1;a=\r\na\r\n', CHUNK_ERROR.badExtension],
    ['1;\r\na\r\n', CHUNK_ERROR.badExtension],
    ['1;a;\r\na\r\n', CHUNK_ERROR.badExtension],
    ['0\r\nContent-Length: 5\r\n\r\n', CHUNK_ERROR.badTrailer],
    ['0\r\ntransfer-encoding: chunked\r\n\r\n', CHUNK_ERROR.badTrailer],
    ['0\r\nConnection: close\r\n\r\n', CHUNK_ERROR.badTrailer],
    ['0\r\nProxy-Connection: close\r\n\r\n', CHUNK_ERROR.badTrailer],
    ['0\r\nX: a\n\r\n', CHUNK_ERROR.bareLineEnd],
    ['0\r\nX : a\r\n\r\n', CHUNK_ERROR.badTrailer],
    ['0\r\n a\r\n\r\n', CHUNK_ERROR.badTrailer],
  ]
  for (const [s, reason] of cases) {
    const r = decodeAll(s)
    t.equal(r.error, reason, JSON.stringify(s))
    t.equal(r.done, false)
  }
})

t.test('trailers over the limit are refused', async (t) => {
  const d = new ChunkedDecoder({ maxTrailerSize: 20 })
  const r = d.push(Buffer.from(`0\r\nX-Long: ${'v'.repeat(30)}\r\n\r\n`))
  t.equal(r.error, CHUNK_ERROR.trailerTooLarge)
})

t.test('after done or an error, nothing more is consumed', async (t) => {
  const d = new ChunkedDecoder()
  t.equal(d.push(Buffer.from('0\r\n\r\n')).done, true)
  t.equal(d.push(Buffer.from('abc')).consumed, 0)
  const e = new ChunkedDecoder()
  t.ok(e.push(Buffer.from('z')).error)
  t.equal(e.push(Buffer.from('1\r\na\r\n')).consumed, 0)
})

t.test('payload slices are views of the input, not copies', async (t) => {
  const d = new ChunkedDecoder()
  const buf = Buffer.from('3\r\nabc\r\n')
  const r = d.push(buf)
  t.equal(r.data[0].buffer, buf.buffer)
  t.equal(d.payloadBytes, 3)
})
