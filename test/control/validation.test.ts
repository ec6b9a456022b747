// Route schemas are compiled on a route's first request (issue 10), not at start: the
// check still runs and reports its errors on first use, and every schema still compiles
// under the strict validator, which start-up no longer proves.
import t from 'tap'
import { bodies, params, queries } from '../../src/control/schemas.js'
import { compileOnFirstUse, schemaMessage, schemaValidator } from '../../src/control/validation.js'

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
