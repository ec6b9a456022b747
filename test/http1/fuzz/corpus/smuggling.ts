/**
 * Published request-smuggling vectors, fixed bytes. `refuse`: cutover must refuse the
 * message at index `at` (default 0) and so never read the request smuggled behind it;
 * `llhttp`: valid or tolerated HTTP where cutover must agree with llhttp (or be stricter).
 * Every vector is also judged against llhttp like a generated case.
 *
 * Sources (paraphrased into bytes, host names changed):
 *   [PS]   PortSwigger Web Security Academy, "HTTP request smuggling" and "Exploiting HTTP
 *          request smuggling" (J. Kettle, "HTTP Desync Attacks", 2019): CL.TE, TE.CL, and
 *          the TE.TE obfuscation list. https://portswigger.net/web-security/request-smuggling
 *   [H11P] Http11Probe smuggling suite (MIT), test ids SMUG-*:
 *          https://github.com/MDA2AV/Http11Probe src/Http11Probe/TestCases/Suites/SmugglingSuite.cs,
 *          documented at https://mda2av.github.io/Http11Probe/docs/smuggling/
 *   [NODE] Node.js regression tests: test/parallel/test-http-chunked-smuggling.js,
 *          test-http-invalid-te.js (hackerone 735748), test-http-transfer-encoding-smuggling.js
 *   [RFC]  RFC 9112 sections 2.2 (bare CR), 5.1 (no whitespace before the colon), 5.2
 *          (obs-fold), 6.1 (TE on HTTP/1.0; chunked last), 6.3 (CL+TE), 7.1 (chunk syntax), 11.2
 *   [I7]   cutover issue 7's hardening list (test/hardening/framing.test.ts)
 */

export interface Vector {
  id: string
  source: string
  mode: 'request' | 'response'
  bytes: string
  expect: 'refuse' | 'llhttp'
  /** the message that must be refused (pipelined vectors) */
  at?: number
  /** response mode: the method each response answers */
  requestMethods?: string[]
}

/** The request an attacker hides behind the ambiguous one. */
export const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'

const H = 'Host: a\r\n'
const post = (headers: string, body = '') => `POST / HTTP/1.1\r\n${H}${headers}\r\n${body}`

function refuse(id: string, source: string, bytes: string, at = 0): Vector {
  return { id, source, mode: 'request', bytes, expect: 'refuse', at }
}
function valid(id: string, source: string, bytes: string): Vector {
  return { id, source, mode: 'request', bytes, expect: 'llhttp' }
}

export const SMUGGLING: Vector[] = [
  // CL.TE and TE.CL: both framings present, whichever order [PS] [RFC 6.3]
  refuse('CL.TE', 'PS', post('Content-Length: 13\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nSMUGGLED') + SMUGGLED),
  refuse('TE.CL', 'PS', post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '8\r\nSMUGGLED\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CL-TE-BOTH', 'H11P', post('Content-Length: 23\r\nTransfer-Encoding: chunked\r\n', 'D\r\nhello-bananas\r\n0\r\n\r\n')),
  refuse('SMUG-CLTE-PIPELINE', 'H11P', post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-TECL-PIPELINE', 'H11P', post('Transfer-Encoding: chunked\r\nContent-Length: 30\r\n', '0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CLTE-DESYNC', 'H11P', post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nX') + SMUGGLED),
  refuse('SMUG-TECL-DESYNC', 'H11P', post('Transfer-Encoding: chunked\r\nContent-Length: 30\r\n', '0\r\n\r\nX') + SMUGGLED),
  refuse('SMUG-CLTE-SMUGGLED-GET', 'H11P', `GET / HTTP/1.1\r\n${H}\r\n` + post('Content-Length: 35\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nGET /admin HTTP/1.1\r\nX-Ignore: X'), 1),
  refuse('SMUG-CLTE-SMUGGLED-HEAD', 'H11P', `HEAD / HTTP/1.1\r\n${H}\r\n` + post('Content-Length: 35\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nGET /admin HTTP/1.1\r\nX-Ignore: X'), 1),
  refuse('SMUG-TECL-SMUGGLED-GET', 'H11P', `GET / HTTP/1.1\r\n${H}Content-Length: 7\r\n\r\n` + post('Transfer-Encoding: chunked\r\nContent-Length: 30\r\n', '0\r\n\r\n') + SMUGGLED, 1),
  refuse('SMUG-CLTE-CONN-CLOSE', 'H11P', post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + SMUGGLED),
  refuse(
    'NODE-invalid-te (hackerone 735748)',
    'NODE',
    post('Content-Type: text/plain\r\nConnection: keep-alive\r\nContent-Length: 10\r\nTransfer-Encoding: eee, chunked\r\n', 'HELLOWORLD') +
      post('Content-Length: 28\r\n', 'I AM A SMUGGLED REQUEST!!!\r\n'),
  ),

  // TE.TE: an obfuscated Transfer-Encoding one side honours and the other ignores [PS]
  refuse('TE.TE xchunked', 'PS', post('Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('TE.TE space before colon', 'PS', post('Transfer-Encoding : chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('TE.TE chunked then x', 'PS', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', '0\r\n\r\n') + SMUGGLED),
  valid('TE.TE tab before value (valid OWS)', 'PS', post('Transfer-Encoding:\tchunked\r\n', '5\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('TE.TE tab before value with CL', 'H11P SMUG-TE-TAB-BEFORE-VALUE', post('Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('TE.TE leading space on the name (obs-fold of the previous line)', 'PS', post(' Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('TE.TE bare LF hides the header', 'PS', `POST / HTTP/1.1\r\n${H}X: X\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello` + SMUGGLED),
  refuse('TE.TE name and colon on two lines', 'PS', post('Transfer-Encoding\r\n: chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-TRAILING-SPACE', 'H11P', post('Transfer-Encoding: chunked \r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-SP-BEFORE-COLON', 'H11P', post('Transfer-Encoding : chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-DOUBLE-CHUNKED', 'H11P', post('Transfer-Encoding: chunked, chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-CASE-MISMATCH with CL', 'H11P', post('Transfer-Encoding: Chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  valid('TE Chunked (case-insensitive, valid)', 'RFC 6.1', post('Transfer-Encoding: Chunked\r\n', '5\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-TE-NOT-FINAL-CHUNKED', 'H11P', post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-TE-HTTP10', 'H11P', `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello` + SMUGGLED),
  refuse('TE on HTTP/1.0 without CL', 'RFC 6.1', `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n` + SMUGGLED),
  refuse('SMUG-TE-EMPTY-VALUE', 'H11P', post('Transfer-Encoding: \r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-LEADING-COMMA', 'H11P', post('Transfer-Encoding: , chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-TRAILING-COMMA', 'H11P', post('Transfer-Encoding: chunked,\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-DUPLICATE-HEADERS', 'H11P', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-IDENTITY', 'H11P', post('Transfer-Encoding: identity\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-VTAB', 'H11P', post('Transfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-FORMFEED', 'H11P', post('Transfer-Encoding: \x0cchunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-NULL', 'H11P', post('Transfer-Encoding: chunked\x00\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  valid('SMUG-TRANSFER_ENCODING (a different field: CL frames it)', 'H11P', post('Transfer_Encoding: chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CHUNKED-WITH-PARAMS', 'H11P', post('Transfer-Encoding: chunked;ext=val\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-TE-OBS-FOLD', 'H11P', post('Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse(
    'NODE-transfer-encoding-smuggling 1',
    'NODE',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked-false\r\nConnection: upgrade\r\n', '1\r\nA\r\n0\r\n\r\n') + 'GET /flag HTTP/1.1\r\nHost: a\r\n\r\n',
  ),
  refuse(
    'NODE-transfer-encoding-smuggling 2 (folded list)',
    'NODE',
    post('Transfer-Encoding: chunked\r\n , chunked-false\r\nConnection: upgrade\r\n', '1\r\nA\r\n0\r\n\r\n') + 'GET /flag HTTP/1.1\r\nHost: a\r\n\r\n',
  ),

  // Content-Length in all its disguises [H11P] [RFC 6.3]
  refuse('SMUG-DUPLICATE-CL', 'H11P', post('Content-Length: 5\r\nContent-Length: 10\r\n', 'helloworld') + SMUGGLED),
  refuse('two equal Content-Lengths', 'I7', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-COMMA-DIFFERENT', 'H11P', post('Content-Length: 5, 10\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-COMMA-SAME', 'H11P', post('Content-Length: 5, 5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-COMMA-TRIPLE', 'H11P', post('Content-Length: 5, 5, 5\r\n', 'hello') + SMUGGLED),
  refuse('CL plus sign', 'PS', post('Content-Length: +5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-NEGATIVE', 'H11P', post('Content-Length: -1\r\n') + SMUGGLED),
  refuse('SMUG-CL-NEGATIVE-ZERO', 'H11P', post('Content-Length: -0\r\n') + SMUGGLED),
  refuse('SMUG-CL-HEX-PREFIX', 'H11P', post('Content-Length: 0x5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-OCTAL', 'H11P', post('Content-Length: 0o5\r\n', 'hello') + SMUGGLED),
  refuse('SMUG-CL-INTERNAL-SPACE', 'H11P', post('Content-Length: 1 0\r\n', 'hello12345') + SMUGGLED),
  refuse('SMUG-CL-UNDERSCORE', 'H11P', post('Content-Length: 1_0\r\n', 'helloworld') + SMUGGLED),
  refuse('CL non-numeric suffix', 'H11P SMUG-CLTE-SMUGGLED-GET-CL-NON-NUMERIC', post('Content-Length: 5x\r\n', 'hello') + SMUGGLED),
  refuse('CL empty', 'RFC 6.3', post('Content-Length: \r\n', 'hello') + SMUGGLED),
  refuse('CL overflow (2^64)', 'RFC 6.3', post('Content-Length: 18446744073709551616\r\n', 'hello') + SMUGGLED),
  refuse('CL space before colon', 'I7', post('Content-Length : 5\r\n', 'hello') + SMUGGLED),
  valid('SMUG-CL-LEADING-ZEROS (1*DIGIT, tolerated by llhttp)', 'H11P', post('Content-Length: 005\r\n', 'hello') + SMUGGLED),
  valid('SMUG-CL-DOUBLE-ZERO', 'H11P', post('Content-Length: 00\r\n') + SMUGGLED),
  valid('SMUG-CL-TRAILING-SPACE (OWS)', 'H11P', post('Content-Length: 5 \r\n', 'hello') + SMUGGLED),
  valid('SMUG-CL-EXTRA-LEADING-SP (OWS)', 'H11P', post('Content-Length:  5\r\n', 'hello') + SMUGGLED),
  valid('SMUG-CL0-BODY-POISON: the X starts the next request', 'H11P', post('Content-Length: 0\r\n', 'X') + SMUGGLED),
  valid('SMUG-GET-CL-BODY-DESYNC: a GET body is read', 'H11P', `GET / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` + SMUGGLED),
  valid('SMUG-OPTIONS-CL-BODY-DESYNC', 'H11P', `OPTIONS / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` + SMUGGLED),
  valid('SMUG-HEAD-CL-BODY: a HEAD request body is read', 'H11P', `HEAD / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` + SMUGGLED),
  valid('SMUG-EXPECT-100-CL-DESYNC', 'H11P', post('Content-Length: 5\r\nExpect: 100-continue\r\n', 'hello') + SMUGGLED),
  valid('SMUG-PIPELINE-SAFE', 'H11P', `GET / HTTP/1.1\r\n${H}\r\n` + SMUGGLED),

  // chunk syntax [H11P] [NODE] [RFC 7.1]
  refuse(
    'NODE-chunked-smuggling: bare LF after a chunk extension',
    'NODE',
    post('Transfer-Encoding: chunked\r\n', '2;\nxx\r\n4c\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
  ),
  refuse('SMUG-CHUNK-BARE-SEMICOLON', 'H11P', post('Transfer-Encoding: chunked\r\n', '5;\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-EXT-INVALID-TOKEN', 'H11P', post('Transfer-Encoding: chunked\r\n', '5;bad[=x\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-EXT-CTRL', 'H11P', post('Transfer-Encoding: chunked\r\n', '5;\x00\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-EXT-CR', 'H11P', post('Transfer-Encoding: chunked\r\n', '5;a\rb\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-EXT-LF', 'H11P', post('Transfer-Encoding: chunked\r\n', '5;\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-HEX-PREFIX', 'H11P', post('Transfer-Encoding: chunked\r\n', '0x5\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-SIZE-PLUS', 'H11P', post('Transfer-Encoding: chunked\r\n', '+5\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-NEGATIVE', 'H11P', post('Transfer-Encoding: chunked\r\n', '-1\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-SIZE-TRAILING-OWS', 'H11P', post('Transfer-Encoding: chunked\r\n', '5 \r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-LEADING-SP', 'H11P', post('Transfer-Encoding: chunked\r\n', ' 5\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-UNDERSCORE', 'H11P', post('Transfer-Encoding: chunked\r\n', '1_0\r\nhello world!!!!!\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-MISSING-TRAILING-CRLF', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-SPILL', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello!!\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-LF-TERM', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-BARE-CR-TERM', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\rhello\r\n0\r\n\r\n') + SMUGGLED),
  refuse('SMUG-CHUNK-LF-TRAILER', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\n') + SMUGGLED),
  refuse('SMUG-CHUNK-INVALID-SIZE-DESYNC', 'H11P', post('Transfer-Encoding: chunked\r\n', '+0\r\n\r\nX') + SMUGGLED),
  refuse('chunk size overflow', 'I7', post('Transfer-Encoding: chunked\r\n', 'fffffffffffffffff1\r\nabc\r\n0\r\n\r\n') + SMUGGLED),
  refuse('chunk size 2^64 + 5 in many digits', 'RFC 7.1', post('Transfer-Encoding: chunked\r\n', '10000000000000005\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  valid('chunk extensions, quoted value', 'RFC 7.1.1', post('Transfer-Encoding: chunked\r\n', '5;a=b;c="d e"\r\nhello\r\n0\r\n\r\n') + SMUGGLED),
  valid('chunk size with leading zeros', 'RFC 7.1', post('Transfer-Encoding: chunked\r\n', '0005\r\nhello\r\n0000\r\n\r\n') + SMUGGLED),
  valid('SMUG-TRAILER-HOST (a trailer, not a head field)', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nHost: evil.example.com\r\n\r\n') + SMUGGLED),
  valid('SMUG-TRAILER-AUTH', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nAuthorization: Bearer evil\r\n\r\n') + SMUGGLED),
  valid('SMUG-TRAILER-CONTENT-TYPE', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nContent-Type: text/evil\r\n\r\n') + SMUGGLED),
  refuse('SMUG-TRAILER-CL', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n') + SMUGGLED),
  refuse('SMUG-TRAILER-TE', 'H11P', post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n') + SMUGGLED),
  refuse('obs-fold in a trailer', 'RFC 5.2', post('Transfer-Encoding: chunked\r\n', '0\r\nX-A: b\r\n c\r\n\r\n') + SMUGGLED),

  // head syntax [RFC] [I7]
  refuse('bare CR ends a header line', 'RFC 2.2', `GET / HTTP/1.1\r\n${H}\rX: y\r\n\r\n` + SMUGGLED),
  refuse('SMUG-BARE-CR-HEADER-VALUE', 'H11P', post('Content-Length: 5\r\nX-Test: val\rue\r\n', 'hello') + SMUGGLED),
  refuse('bare LF line ends', 'RFC 2.2', 'GET / HTTP/1.1\nHost: a\n\n' + SMUGGLED),
  refuse('bare LF after the request line', 'RFC 2.2', `GET / HTTP/1.1\n${H}\r\n` + SMUGGLED),
  refuse('obs-fold', 'RFC 5.2', `GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n` + SMUGGLED),
  refuse('NUL in a header value', 'I7', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n` + SMUGGLED),
  refuse('DEL in a header name', 'RFC 5.1', `GET / HTTP/1.1\r\n${H}X-\x7fA: b\r\n\r\n` + SMUGGLED),
  refuse('space in a header name', 'RFC 5.1', `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n` + SMUGGLED),
  refuse('empty header name', 'RFC 5.1', `GET / HTTP/1.1\r\n${H}: b\r\n\r\n` + SMUGGLED),
  refuse('two Host headers', 'RFC 3.2 / I7', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n` + SMUGGLED),
  refuse('HTTP/1.1 without Host', 'RFC 3.2 / I7', `GET / HTTP/1.1\r\nX-A: b\r\n\r\n` + SMUGGLED),
  refuse('space in the target', 'RFC 3.2', `GET /a b HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  refuse('HTTP/2 preface', 'RFC 9113 3.4', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  refuse('CONNECT (no tunnel through the proxy)', 'node:http', `CONNECT a:443 HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  refuse('lowercase method', 'RFC 9110 9.1', `get / HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  refuse('HTTP/1.2', 'RFC 2.3', `GET / HTTP/1.2\r\n${H}\r\n` + SMUGGLED),
  refuse('bad character in the method', 'RFC 3.1', `G(T / HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  valid('absolute-form target', 'RFC 3.2.2', `GET http://a/x HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  valid('asterisk-form target', 'RFC 3.2.4', `OPTIONS * HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  valid('empty lines before a request', 'RFC 2.2', `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n` + SMUGGLED),
  valid('empty header value', 'RFC 5.5', `GET / HTTP/1.1\r\n${H}X-A:\r\n\r\n` + SMUGGLED),
  valid('obs-text in a value', 'RFC 5.5', `GET / HTTP/1.1\r\n${H}X-A: caf\xe9\r\n\r\n` + SMUGGLED),
  valid('Connection: close stops the connection', 'RFC 9.6', `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n` + SMUGGLED),
  valid('an upgrade: the rest is a tunnel', 'RFC 9110 7.8', `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n` + SMUGGLED),

  // responses: what a node answers [RFC 6.3]
  { id: 'response CL+TE', source: 'RFC 6.3', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', expect: 'refuse' },
  { id: 'response two Content-Lengths', source: 'RFC 6.3', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', expect: 'refuse' },
  { id: 'response chunk size overflow', source: 'RFC 7.1', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n', expect: 'refuse' },
  { id: 'response obs-fold', source: 'RFC 5.2', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n', expect: 'refuse' },
  {
    id: 'HEAD answer with Content-Length has no body',
    source: 'RFC 6.3',
    mode: 'response',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: 'llhttp',
    requestMethods: ['HEAD', 'GET'],
  },
  {
    id: '304 with Content-Length has no body',
    source: 'RFC 6.3',
    mode: 'response',
    bytes: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: 'llhttp',
  },
  {
    // the request after it is parsed as a request, not passed on as a tunnel's bytes
    id: 'Upgrade in an HTTP/1.0 request is ignored, with its body',
    source: 'RFC 9110 7.8',
    mode: 'request',
    bytes:
      'POST /a HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n',
    expect: 'llhttp',
  },
  { id: '100 Continue then the answer', source: 'RFC 9110 15.2', mode: 'response', bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', expect: 'llhttp' },
  { id: 'read until close', source: 'RFC 6.3', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\n\r\nall of this is body HTTP/1.1 200 OK\r\n\r\n', expect: 'llhttp' },
  {
    id: '101 then tunnel bytes',
    source: 'RFC 9110 15.2.2',
    mode: 'response',
    bytes: 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello',
    expect: 'llhttp',
  },
]
