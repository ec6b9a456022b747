// Route schemas are compiled on a route's first request (issue 10), not at start: the
// check still runs and reports its errors on first use, and every schema still compiles
// under the strict validator, which start-up no longer proves.
import Fastify from 'fastify'
import t from 'tap'
import { bodies, params, queries } from '../../src/control/schemas.js'
import { compileOnFirstUse, lazyCompilers, schemaMessage, schemaValidator } from '../../src/control/validation.js'

t.test('every route schema compiles under the strict validator', async (t) => {
  const ajv = schemaValidator()
  for (const [group, schemas] of Object.entries({ bodies, queries, params })) {
    for (const [name, schema] of Object.entries(schemas)) t.doesNotThrow(() => ajv.compile(schema), `${group}.${name}`)
  }
})

t.test('a check is compiled on its first use, once, and reports its errors', async (t) => {
  let compiles = 0
  const ajv = schemaValidator()
  const check = compileOnFirstUse(() => {
    compiles++
    return ajv.compile(bodies.split)
  })
  t.equal(compiles, 0, 'nothing compiled before a request needs it')
  t.equal(check({ y: 5 }), true)
  t.equal(compiles, 1)
  t.equal(check({ y: 500 }), false)
  t.equal(compiles, 1, 'compiled once')
  t.ok(check.errors && check.errors.length > 0, 'errors of the failed check')
  t.equal(schemaMessage(check.errors!, 'body'), 'y: expected a number from 0 to 100 with at most two decimals')
  t.equal(check({ y: 1 }), true)
  t.notOk(check.errors, 'errors of the last check only')
})

t.test("fastify with the lazy compilers: a body is checked on the route's first request, a response schema still serializes", async (t) => {
  const app = Fastify({ schemaController: { compilersFactory: lazyCompilers() } })
  t.teardown(() => app.close())
  app.post('/split', { schema: { body: bodies.split } }, async () => ({ ok: true }))
  app.get('/shaped', { schema: { response: { 200: { type: 'object', properties: { kept: { type: 'string' } } } } } }, async () => ({ kept: 'yes', dropped: 'no' }))
  await app.ready()
  const bad = await app.inject({ method: 'POST', url: '/split', payload: { y: 500 } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { message: /y/ })
  const good = await app.inject({ method: 'POST', url: '/split', payload: { y: 5 } })
  t.equal(good.statusCode, 200)
  const shaped = await app.inject({ method: 'GET', url: '/shaped' })
  t.same(shaped.json(), { kept: 'yes' }, "fastify's serializer, loaded for the response schema, drops what the schema does not name")
})
