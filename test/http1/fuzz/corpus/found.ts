/**
 * Bytes on which the differential fuzz found cutover's codec more lenient than llhttp (or
 * framing them differently). They stay here after the fix, as regression vectors; `found`
 * is when and by which seed.
 */
import type { Vector } from './smuggling.js'

function refuse(id: string, found: string, bytes: string, mode: Vector['mode'] = 'request'): Vector {
  return { id, source: `fuzz ${found}`, mode, bytes, expect: 'refuse' }
}

export const FOUND: Vector[] = [
  // llhttp 9.3 (Node 20) refuses these, 9.4 (Node 24) accepts them as cutover does: an llhttp quirk, not a codec bug
  { id: 'CL followed by HTAB', source: 'fuzz seed 1 case 64', mode: 'request', bytes: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\nhello', expect: 'llhttp' },
  { id: 'CL followed by HTAB, response', source: 'fuzz seed 1 case 1439', mode: 'response', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\t\r\n\r\nab', expect: 'llhttp' },
  refuse('TE chunked followed by HTAB', 'seed 1 case 1963', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n'),
  {
    id: 'TE chunked followed by HTAB, response: llhttp reads until close',
    source: 'fuzz seed 1 case 396',
    mode: 'response',
    bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Connection: keep-alive followed by HTAB on HTTP/1.0 (llhttp 9.3 closes; 9.4 keeps alive as cutover does)',
    source: 'fuzz seed 11 (MISMATCH keepAlive)',
    mode: 'request',
    bytes: 'GET / HTTP/1.0\r\nConnection: keep-alive\t\r\n\r\nGET /2 HTTP/1.0\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Connection: upgrade followed by HTAB (llhttp 9.3 does not upgrade; 9.4 does as cutover does)',
    source: 'fuzz (MISMATCH upgrade)',
    mode: 'request',
    bytes: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\t\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: 'llhttp',
  },
  refuse('chunk extension: bare semicolon', 'seed 2 case 494', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nab\r\n0\r\n\r\n'),
  refuse('last chunk extension: bare semicolon', 'seed 2 case 1175', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0;\r\n\r\n'),
  refuse('Transfer-Encoding in the trailers', 'seed 2 case 2949', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'),
  refuse('Content-Length in the trailers', 'seed 3 case 2115', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n'),
  refuse('target neither origin, absolute nor asterisk form', 'seed 2 case 684', 'POST a HTTP/1.1\r\nHost: a\r\n\r\n'),
  refuse('authority-form target on GET', 'seed 2 case 748', 'GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n'),
  refuse('byte >= 0x80 in the target', 'seed 1 case 615', 'GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n'),
  refuse('204 with CL and TE', 'seed 1 case 2793', 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n', 'response'),
  {
    id: 'HEAD answer with CL and TE',
    source: 'fuzz seed 21',
    mode: 'response',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n',
    expect: 'refuse',
    requestMethods: ['HEAD'],
  },
  refuse('absolute-form without //', 'seed 21 (target)', 'PUT http:/a HTTP/1.1\r\nHost: a\r\n\r\n'),
  refuse('origin-form without the leading slash', 'seed 21 havoc', 'PUT api/v1/users?id=42 HTTP/1.1\r\nHost: a\r\n\r\n'),
  refuse('byte >= 0x80 in the query', 'seed 21 havoc', 'GET /x?q=a\x80 HTTP/1.1\r\nHost: a\r\n\r\n'),
  // llhttp honours `Connection: close` in trailers: it reads nothing after that message.
  // cutover may refuse such a trailer or close after the message; it may not read on.
  {
    id: 'Connection: close in the trailers',
    source: 'fuzz seed 777 case 57334',
    mode: 'request',
    bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Connection: close in the trailers, response',
    source: 'fuzz seed 777 case 29598',
    mode: 'response',
    bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: 'llhttp',
  },
  // llhttp reads Proxy-Connection as Connection: close, keep-alive and upgrade all count
  {
    id: 'Proxy-Connection: close',
    source: 'fuzz (targeted after the trailer finding)',
    mode: 'request',
    bytes: 'GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Proxy-Connection: upgrade',
    source: 'fuzz (targeted)',
    mode: 'request',
    bytes: 'GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Proxy-Connection: close in the trailers',
    source: 'fuzz (targeted)',
    mode: 'request',
    bytes: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nProxy-Connection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: 'llhttp',
  },
  {
    id: 'Proxy-Connection: close, response',
    source: 'fuzz (targeted)',
    mode: 'response',
    bytes: 'HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: 'llhttp',
  },
  refuse('100 with CL and TE', 'seed 1 case 247', 'HTTP/1.1 100 Continue\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'response'),
]
