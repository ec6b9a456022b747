import t from 'tap'
import { errors } from 'undici'
import { CutoverError } from '../../src/errors.js'
import { classifyFailure, failureStatus, isIdempotent, isRetryable } from '../../src/forwarding/failure.js'

const coded = (code: string, message = code) => Object.assign(new Error(message), { code })

t.test('errors map to failure kinds', async (t) => {
  t.equal(classifyFailure(coded('ECONNREFUSED'), false), 'connect')
  t.equal(classifyFailure(new errors.ConnectTimeoutError(), false), 'connect')
  t.equal(classifyFailure(coded('EHOSTUNREACH'), false), 'connect')
  t.equal(classifyFailure(coded('ECONNRESET'), false), 'connect', 'nothing was sent yet')
  t.equal(classifyFailure(coded('ECONNRESET'), true), 'reset')
  t.equal(classifyFailure(new errors.SocketError('other side closed'), true), 'reset')
  t.equal(classifyFailure(new errors.SocketError('bad response'), true), 'protocol')
  t.equal(classifyFailure(new errors.HeadersTimeoutError(), true), 'timeout')
  t.equal(classifyFailure(coded('HPE_INVALID_CONSTANT'), true), 'protocol')
  t.equal(classifyFailure(new CutoverError('CUTOVER_ERR_UPSTREAM', 'x'), true), 'protocol')
  t.equal(classifyFailure(new errors.InvalidArgumentError('x'), false), 'protocol')
})

t.test('retry rules of SPEC 4.4', async (t) => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) t.ok(isIdempotent(m), m)
  for (const m of ['POST', 'PATCH', 'PURGE', undefined]) t.notOk(isIdempotent(m), String(m))
  t.ok(isRetryable('connect', false, true), 'a refused POST is retried')
  t.ok(isRetryable('reset', true, false))
  t.notOk(isRetryable('reset', false, false), 'a reset POST is not')
  t.notOk(isRetryable('reset', true, true), 'nor a PUT whose body was read')
  t.notOk(isRetryable('timeout', true, false))
  t.notOk(isRetryable('protocol', true, false))
  t.equal(failureStatus('timeout'), 504)
  t.equal(failureStatus('connect'), 502)
  t.equal(failureStatus('reset'), 502)
})
