import t from 'tap'
import Fastify from 'fastify'
import { readdirSync, readFileSync } from 'node:fs'
import { CONSOLE_CSP, loadAssets, registerConsole } from '../../src/console/console-routes.js'
import type { StateView } from '../../src/control/api-types.js'
import { buildControlServer } from '../../src/control/server.js'
import pino from 'pino'
import { FakeClock } from '../../src/clock.js'
import { StateController } from '../../src/state/controller.js'
import { EventLog } from '../../src/state/events.js'

const ASSETS = new URL('../../src/console/assets/', import.meta.url)
const file = (name: string) => readFileSync(new URL(name, ASSETS), 'utf8')
const HTML = file('index.html')
const SCRIPTS = readdirSync(ASSETS).filter((n) => n.endsWith('.js'))

function app(t: { teardown: (fn: () => unknown) => void }) {
  const a = Fastify({ logger: false })
  registerConsole(a, { history: () => ({ slot_ms: 5000, now: 0, pools: { x: [], y: [] } }) })
  t.teardown(() => a.close())
  return a
}

t.test('GET / serves the page with no token, a strict CSP, an ETag and revalidation', async (t) => {
  const a = app(t)
  const res = await a.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.headers['cache-control'], 'no-cache', 'cached, but asked again each time')
  t.match(res.headers.etag, /^"[A-Za-z0-9_-]{22}"$/)
  const csp = String(res.headers['content-security-policy'])
  t.equal(csp, CONSOLE_CSP)
  t.match(csp, /script-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'nothing inline, no wildcard')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.body, HTML, 'the file as it is')
  t.match(res.body, /<script type="module" src="\/console\/app\.js"><\/script>/)
  t.match(res.body, /<link rel="stylesheet" href="\/console\/app\.css">/)
  t.notMatch(res.body, /<script>|<style|\sstyle="|\son[a-z]+="/i, 'no inline script, style or handler the CSP would block')
  t.notMatch(res.body, /https?:\/\//, 'nothing loaded from elsewhere (no CDN)')

  const again = await a.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(res.headers.etag) } })
  t.equal(again.statusCode, 304, 'unchanged: 304')
  t.equal(again.body, '')
  t.equal(again.headers.etag, res.headers.etag)
  t.equal((await a.inject({ method: 'GET', url: '/', headers: { 'if-none-match': `"other", W/${String(res.headers.etag)}` } })).statusCode, 304, 'a list, and a weak tag')
  t.equal((await a.inject({ method: 'GET', url: '/', headers: { 'if-none-match': '"stale"' } })).statusCode, 200, 'another tag: the page')
})

t.test('every module and the style are served from their files with their types; nothing else is', async (t) => {
  const a = app(t)
  t.same(SCRIPTS.sort(), ['app.js', 'figures.js', 'view.js'])
  const tags = new Set<string>()
  for (const name of SCRIPTS) {
    const js = await a.inject({ method: 'GET', url: `/console/${name}` })
    t.equal(js.statusCode, 200, name)
    t.match(js.headers['content-type'], /^text\/javascript; charset=utf-8/)
    t.equal(js.headers['cache-control'], 'no-cache')
    t.equal(js.body, file(name))
    tags.add(String(js.headers.etag))
  }
  t.equal(tags.size, SCRIPTS.length, 'one ETag per file')
  const css = await a.inject({ method: 'GET', url: '/console/app.css' })
  t.match(css.headers['content-type'], /^text\/css; charset=utf-8/)
  t.match(css.body, /@media \(max-width: 600px\)/, 'a narrow layout')
  t.match(css.body, /:focus-visible/, 'visible focus')
  for (const url of ['/console/other.js', '/console/tsconfig.json', '/console/index.html']) t.equal((await a.inject({ method: 'GET', url })).statusCode, 404, url)
  t.same(
    loadAssets().map((s) => s.url),
    ['/console/app.css', '/console/app.js', '/console/figures.js', '/', '/console/view.js'],
  )
})

t.test('the scripts are checked modules that name every element they use and write no HTML', async (t) => {
  for (const name of SCRIPTS) {
    const src = file(name)
    t.match(src, /^\/\/ @ts-check\n/, `${name} is type-checked`)
    t.notMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/, `${name}: no HTML injection, no eval`)
  }
  const app = file('app.js')
  const ids = new Set([...app.matchAll(/(?:\$|input|button)\('([a-z0-9-]+)'\)/g)].map((m) => m[1]))
  t.ok(ids.size > 20)
  for (const id of ids) t.ok(HTML.includes(`id="${id}"`), `#${id} exists in the page`)
})

t.test('the page is accessible by construction', async (t) => {
  for (const id of ['token', 'slider', 'confirm-reason']) t.match(HTML, new RegExp(`<label for="${id}"`), `#${id} has a label`)
  t.match(HTML, /id="events"[^>]*aria-live="polite"/, 'event log is live')
  t.match(HTML, /id="result"[^>]*aria-live="polite"/, 'action results are live')
  t.match(HTML, /<dialog id="confirm"/)
  t.match(HTML, /<input id="slider" type="range"/)
  t.match(HTML, /<html lang="en">/)
})

t.test('GET /v1/history needs the token: the control listener answers 401 before the console is asked', async (t) => {
  const clock = new FakeClock()
  const events = new EventLog(clock)
  const state = new StateController({ y: 0, locked: false, lock_reason: null, rollout: null }, { save: async () => undefined }, events)
  let calls = 0
  const server = buildControlServer({
    token: () => 'console-test-token',
    state,
    events,
    describe: () => ({}) as StateView,
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    readiness: () => ({ ready: true }),
    history: () => {
      calls++
      return { slot_ms: 5000, now: 1, pools: { x: [], y: [] } }
    },
    logger: pino({ level: 'silent' }),
    clock,
  })
  t.teardown(() => server.close())
  for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
    const res = await server.inject({ method: 'GET', url: '/v1/history', headers })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'CUTOVER_ERR_UNAUTHORIZED')
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  t.equal(calls, 0, 'history not read without the token')
  const ok = await server.inject({ method: 'GET', url: '/v1/history', headers: { authorization: 'Bearer console-test-token' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^application\/json/)
  t.equal(ok.headers['cache-control'], 'no-store')
  t.same(ok.json(), { slot_ms: 5000, now: 1, pools: { x: [], y: [] } })
  t.equal(calls, 1)
  const page = await server.inject({ method: 'GET', url: '/' })
  t.equal(page.statusCode, 200, 'the page itself needs no token')
})
