import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { Script } from 'node:vm'
import { CONSOLE_CSP, registerConsole } from '../../src/console/console-routes.js'
import { PAGE_HTML } from '../../src/console/page-html.js'
import { PAGE_JS } from '../../src/console/page-js.js'

type Test = Pick<typeof t, 'teardown' | 'equal'>

const TOKEN = 'console-test-token'

function app(t: Test) {
  const a = Fastify({ logger: false })
  let historyCalls = 0
  registerConsole(a, {
    history: () => {
      historyCalls++
      return { slot_ms: 5000, pools: { x: [], y: [] } }
    },
    authorize: (req: FastifyRequest) => req.headers.authorization === `Bearer ${TOKEN}`,
  })
  t.teardown(() => a.close())
  return { app: a, calls: () => historyCalls }
}

t.test('GET / serves the page with no token, a strict CSP and no caching', async (t) => {
  const { app: a } = app(t)
  const res = await a.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.headers['cache-control'], 'no-store')
  const csp = String(res.headers['content-security-policy'])
  t.equal(csp, CONSOLE_CSP)
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/)
  t.match(csp, /style-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'nothing inline, no wildcard')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.match(res.body, /<script src="\/console\/app\.js" defer><\/script>/)
  t.match(res.body, /<link rel="stylesheet" href="\/console\/app\.css">/)
  t.notMatch(res.body, /<script>|<style|\sstyle="|\son[a-z]+="/i, 'no inline script, style or handler the CSP would block')
  t.notMatch(res.body, /https?:\/\//, 'nothing loaded from elsewhere (no CDN)')
})

t.test('the script and the style are served with their content types', async (t) => {
  const { app: a } = app(t)
  const js = await a.inject({ method: 'GET', url: '/console/app.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /^text\/javascript; charset=utf-8/)
  t.equal(js.headers['cache-control'], 'no-store')
  t.equal(js.body, PAGE_JS)
  const css = await a.inject({ method: 'GET', url: '/console/app.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css; charset=utf-8/)
  t.match(css.body, /@media \(max-width: 600px\)/, 'a narrow layout')
  t.match(css.body, /:focus-visible/, 'visible focus')
  const nope = await a.inject({ method: 'GET', url: '/console/other.js' })
  t.equal(nope.statusCode, 404)
})

t.test('the script parses and names every element it uses', async (t) => {
  t.doesNotThrow(() => new Script(PAGE_JS, { filename: 'app.js' }), 'valid JavaScript')
  const ids = new Set([...PAGE_JS.matchAll(/\$\('([a-z0-9-]+)'\)/g)].map((m) => m[1]))
  t.ok(ids.size > 20)
  for (const id of ids) t.ok(PAGE_HTML.includes(`id="${id}"`), `#${id} exists in the page`)
  t.notMatch(PAGE_JS, /innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/, 'no HTML injection, no eval')
})

t.test('the page is accessible by construction', async (t) => {
  for (const id of ['token', 'slider', 'confirm-reason']) t.match(PAGE_HTML, new RegExp(`<label for="${id}"`), `#${id} has a label`)
  t.match(PAGE_HTML, /id="events"[^>]*aria-live="polite"/, 'event log is live')
  t.match(PAGE_HTML, /id="result"[^>]*aria-live="polite"/, 'action results are live')
  t.match(PAGE_HTML, /<dialog id="confirm"/)
  t.match(PAGE_HTML, /<input id="slider" type="range"/)
  t.match(PAGE_HTML, /<html lang="en">/)
})

t.test('GET /v1/history needs the token', async (t) => {
  const { app: a, calls } = app(t)
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }]) {
    const res = await a.inject({ method: 'GET', url: '/v1/history', headers })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'CUTOVER_ERR_UNAUTHORIZED')
    t.type(res.json().error, 'string')
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  t.equal(calls(), 0, 'history not read without the token')
  const ok = await a.inject({ method: 'GET', url: '/v1/history', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^application\/json/)
  t.equal(ok.headers['cache-control'], 'no-store')
  t.same(ok.json(), { slot_ms: 5000, pools: { x: [], y: [] } })
  t.equal(calls(), 1)
})
