import t from 'tap'
import Fastify from 'fastify'
import { ANSWERS, answerHeaders, failureAnswer, proxyAnswer, rawAnswer, sendApiError } from '../src/answers.js'
import { ERRORS } from '../src/errors.js'

t.test('proxy answers take their status from the registry and carry a Kong-like {message}', async (t) => {
  for (const [name, answer] of Object.entries(ANSWERS)) {
    t.equal(answer.status, ERRORS[answer.code], `${name}: status from ${answer.code}`)
    t.same(Object.keys(JSON.parse(answer.body.toString())), ['message'], `${name}: {message} only`)
  }
  t.equal(ANSWERS.noNode.status, 503)
  t.equal(ANSWERS.noNode.code, 'CUTOVER_ERR_NO_NODE')
  t.equal(failureAnswer('timeout').code, 'CUTOVER_ERR_UPSTREAM_TIMEOUT')
  t.equal(failureAnswer('timeout').status, 504)
  for (const kind of ['connect', 'reset', 'protocol'] as const) t.equal(failureAnswer(kind).status, 502, kind)
})

t.test('a raw answer is a whole HTTP/1.1 response, with close and extra headers only when asked', async (t) => {
  const shed = rawAnswer(ANSWERS.overloaded, { close: true, headers: { 'retry-after': '1' } }).toString('latin1')
  t.equal(shed, 'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 35\r\nretry-after: 1\r\nconnection: close\r\n\r\n{"message":"cutover is overloaded"}')
  const plain = rawAnswer(proxyAnswer('CUTOVER_ERR_BAD_REQUEST', 'bad request: x')).toString('latin1')
  t.match(plain, /^HTTP\/1\.1 400 Bad Request\r\n/)
  t.notMatch(plain, /connection/)
  const [head, body] = plain.split('\r\n\r\n')
  t.match(head, new RegExp(`content-length: ${Buffer.byteLength(body)}`), "the length is the body's")
  t.same(answerHeaders(ANSWERS.upstream, { close: true }), ['content-type', 'application/json', 'content-length', String(ANSWERS.upstream.body.length), 'connection', 'close'])
})

t.test('control API errors: {error, code}, the registry status unless one is given', async (t) => {
  const app = Fastify()
  app.get('/a', (_req, reply) => sendApiError(reply, 'CUTOVER_ERR_LOCKED', 'split is locked'))
  app.get('/b', (_req, reply) => sendApiError(reply, 'CUTOVER_ERR_BAD_REQUEST', 'not acceptable', 406))
  t.teardown(() => app.close())
  const a = await app.inject({ method: 'GET', url: '/a' })
  t.equal(a.statusCode, 409)
  t.match(a.headers['content-type'], /^application\/json/)
  t.same(a.json(), { error: 'split is locked', code: 'CUTOVER_ERR_LOCKED' })
  const b = await app.inject({ method: 'GET', url: '/b' })
  t.equal(b.statusCode, 406)
  t.same(b.json(), { error: 'not acceptable', code: 'CUTOVER_ERR_BAD_REQUEST' })
})
