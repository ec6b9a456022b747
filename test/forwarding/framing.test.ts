import t from 'tap'
import { FRAMING, framingProblem } from '../../src/forwarding/framing.js'

t.test('clean heads pass', async (t) => {
  t.equal(framingProblem('1.1', ['Host', 'a']), null)
  t.equal(framingProblem('1.1', ['Host', 'a', 'Content-Length', '4']), null)
  t.equal(framingProblem('1.1', ['host', 'a', 'transfer-encoding', 'chunked']), null)
  t.equal(framingProblem('1.1', ['HOST', 'a', 'Transfer-Encoding', ' Chunked\t']), null, 'case and whitespace around the value do not matter')
  t.equal(framingProblem('1.0', []), null, 'HTTP/1.0 needs no Host')
  t.equal(framingProblem('1.1', ['Host', 'a', 'X-Host', 'b', 'Hosts', 'c']), null, 'names that only look alike')
})

t.test('ambiguous heads are named', async (t) => {
  t.equal(framingProblem('1.1', ['Host', 'a', 'host', 'a']), FRAMING.duplicateHost)
  t.equal(framingProblem('1.0', ['Host', 'a', 'Host', 'b']), FRAMING.duplicateHost)
  t.equal(framingProblem('1.1', ['X-A', 'b']), FRAMING.missingHost)
  t.equal(framingProblem('1.1', ['Host', 'a', 'Content-Length', '4', 'content-length', '4']), FRAMING.duplicateContentLength)
  t.equal(framingProblem('1.0', ['Host', 'a', 'Transfer-Encoding', 'chunked']), FRAMING.transferEncodingHttp10)
  t.equal(framingProblem('1.1', ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']), FRAMING.duplicateTransferEncoding)
  for (const value of ['gzip, chunked', 'chunked, chunked', 'identity', 'xchunked', 'chunked;q=1', '', 'chunke']) {
    t.equal(framingProblem('1.1', ['Host', 'a', 'Transfer-Encoding', value]), FRAMING.transferEncodingNotChunked, value)
  }
  t.equal(framingProblem('1.1', ['Host', 'a', 'Content-Length', '4', 'Transfer-Encoding', 'chunked']), FRAMING.lengthAndChunked)
})
