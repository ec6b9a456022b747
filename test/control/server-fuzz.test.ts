import t from 'tap'
import { seededRandom } from '../../src/clock.js'
import { isPercent } from '../../src/config/percent.js'
import { TOKEN, harness } from './harness.js'

const SEED = 20260101
const REQUESTS = 300

const MUTATIONS = new Set([
  'PUT /v1/split',
  'POST /v1/rollback',
  'POST /v1/unlock',
  'POST /v1/rollout',
  'POST /v1/rollout/pause',
  'POST /v1/rollout/resume',
  'POST /v1/rollout/promote',
  'POST /v1/rollout/abort',
])
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const
const PATHS = [
  '/v1/state',
  '/v1/split',
  '/v1/rollback',
  '/v1/unlock',
  '/v1/rollout',
  '/v1/rollout/pause',
  '/v1/rollout/resume',
  '/v1/rollout/promote',
  '/v1/rollout/abort',
  '/v1/events',
  '/metrics',
  '/healthz',
  '/readyz',
  '/v1/split/',
  '/v1',
  '/v1/',
  '/V1/split',
  '/%761/split',
  '/v1/rollout/%70ause',
  '/v1/../metrics',
  '//v1/split',
  '/v1/split?y=5',
  '/v1/events?since=-3',
  '/v1/events?limit=5000',
  '/v1/events?since=2&limit=1',
  '/nope',
  '/v1/rollout/unknown',
]
type BodyMaker = (random: () => number) => string | undefined
const none: BodyMaker = () => undefined
const percent: BodyMaker = (random) => `{"y":${Math.round(random() * 10000) / 100}}`
const ROUTES: ReadonlyArray<[(typeof METHODS)[number], string, BodyMaker]> = [
  ['PUT', '/v1/split', percent],
  ['PUT', '/v1/split', percent],
  ['PUT', '/v1/split', percent],
  ['POST', '/v1/rollback', (random) => (random() < 0.5 ? undefined : '{"reason":"fuzz"}')],
  ['POST', '/v1/unlock', none],
  ['POST', '/v1/unlock', () => '{}'],
  ['POST', '/v1/rollout', none],
  ['POST', '/v1/rollout/abort', none],
  ['POST', '/v1/rollout/pause', none],
  ['GET', '/v1/state', none],
  ['GET', '/v1/events', none],
]
const AUTHS: Array<string | undefined> = [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`, undefined, 'Bearer nope', `Basic ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN}\u0000`, 'Bearer']
const TYPES: Array<string | undefined> = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/jsonx',
  'multipart/form-data; boundary=x',
]
const BODIES: Array<string | undefined> = [
  undefined,
  '',
  '{}',
  '{"y":25}',
  '{"y":0}',
  '{"y":100}',
  '{"y":12.34}',
  '{"y":12.345}',
  '{"y":"25"}',
  '{"y":-5}',
  '{"y":101}',
  '{"y":null}',
  '{"y":25,"extra":1}',
  '{"reason":"because"}',
  '{"reason":""}',
  '{"reason":5}',
  '{"steps":[{"y":10,"hold":"1s"}]}',
  '{"steps":"all"}',
  '[]',
  'null',
  '42',
  '"str"',
  'true',
  '{"y":',
  '{"__proto__":{"locked":true}}',
  '{"constructor":{"prototype":{"y":1}}}',
  '{"y":1e999}',
  '\u0000\u00ff',
  'y=25',
  `{"pad":"${'z'.repeat(70_000)}"}`,
]

t.test(`seeded fuzz of the control API (${REQUESTS} requests, seed ${SEED})`, async (t) => {
  const random = seededRandom(SEED)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
  const h = harness()
  t.teardown(() => h.app.close())
  let fives = 0
  let wrongChanges = 0
  let changes = 0
  for (let i = 0; i < REQUESTS; i++) {
    // start from a valid request and spoil some of its parts, so both valid mutations and
    // near-misses (right route, wrong token or body) are frequent
    const [goodMethod, goodUrl, goodBody] = pick(ROUTES)
    const method = random() < 0.15 ? pick(METHODS) : goodMethod
    const url = random() < 0.15 ? pick(PATHS) : goodUrl
    const authorization = random() < 0.3 ? pick(AUTHS) : AUTHS[0]
    const type = random() < 0.2 ? pick(TYPES) : TYPES[0]
    const wantBody = method === 'GET' || method === 'HEAD' ? undefined : random() < 0.35 ? pick(BODIES) : goodBody(random)
    const payload = wantBody
    const headers: Record<string, string> = {}
    if (authorization !== undefined) headers.authorization = authorization
    if (type !== undefined && payload !== undefined) headers['content-type'] = type
    const before = h.state.current
    const res = await h.app.inject({ method, url, headers, payload })
    const label = `#${i} ${method} ${url} auth=${JSON.stringify(authorization)} type=${type} body=${JSON.stringify(payload?.slice(0, 40))} -> ${res.statusCode}`
    if (res.statusCode >= 500) {
      fives++
      t.fail(`5xx: ${label} ${res.body.slice(0, 200)}`)
    }
    if (res.statusCode >= 400 && method !== 'HEAD') t.type(res.json().code, 'string', `error body has a code: ${label}`)
    if (h.state.current !== before) {
      changes++
      const valid = authorization === `Bearer ${TOKEN}` && MUTATIONS.has(`${method} ${url.split('?')[0]}`) && res.statusCode === 200
      if (!isPercent(h.state.current.y)) t.fail(`state y ${h.state.current.y} is not a valid share: ${label}`)
      if (!valid) {
        wrongChanges++
        t.fail(`state changed by a rejected or unauthorised request: ${label}`)
      }
    }
  }
  t.equal(fives, 0, 'never a 5xx')
  t.equal(wrongChanges, 0, 'no state change outside valid authorised mutations')
  t.ok(changes > 5, `the fuzz did reach valid mutations (${changes} changes)`)
})
