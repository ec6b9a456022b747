// @ts-check
/**
 * The console's script, served at /console/app.js: polls the /v1 API, puts on the page
 * what view.js decides, and sends the operator's actions. Data is written with
 * textContent only, never as HTML. Type-checked against the API's contract
 * (src/control/api-types.ts) by `npm run typecheck`.
 */

import { clockTime, latency, requestRate, errorRate, share } from './figures.js'
import { chartRange, eventTone, fleetText, gatesText, lastFailureText, nodeHealth, nowFigure, rolloutText, stateSignature } from './view.js'

/**
 * @typedef {import('../../control/api-types.js').StateView} StateView
 * @typedef {import('../../control/api-types.js').EventView} EventView
 * @typedef {import('../../control/api-types.js').HistoryView} HistoryView
 * @typedef {import('../../control/api-types.js').HistoryPointView} HistoryPointView
 * @typedef {import('../../control/api-types.js').PoolName} PoolName
 * @typedef {import('../../control/api-types.js').NodeView} NodeView
 * @typedef {import('../../control/api-types.js').ShadowView} ShadowView
 */

const TOKEN_KEY = 'cutover.token'
const POLL_MS = 2000
const MAX_EVENTS = 300
const SVG_NS = 'http://www.w3.org/2000/svg'
const W = 600
const H = 150

/** @type {string | null} */
let token = null
let lastEventId = 0
/** @type {StateView | null} */
let current = null
/** the latest rollback event: while the split stays locked, the gates panel explains it */
/** @type {EventView | null} */
let lastRollback = null
/** the state an action's message speaks of; when the state moves on, the message goes */
/** @type {string | null} */
let resultFor = null
let sliderDirty = false
/** @type {ReturnType<typeof setTimeout> | null} */
let pollTimer = null
let polling = false
let generation = 0

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id))
/** @param {string} id */
const button = (id) => /** @type {HTMLButtonElement} */ ($(id))
/** @param {Element} el @param {string} s */
const text = (el, s) => {
  el.textContent = s
}

function storageGet() {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

/** @param {string | null} v */
function storageSet(v) {
  try {
    if (v === null) sessionStorage.removeItem(TOKEN_KEY)
    else sessionStorage.setItem(TOKEN_KEY, v)
  } catch {
    // private mode: keep it in memory
  }
}

// ---- the API ----

class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/** @param {number} status @param {any} data */
function describeError(status, data) {
  const msg = data && (data.error || data.message)
  if (status === 409) return `Refused: ${msg || 'the current state does not allow this'} (409).`
  if (status === 503) return `cutover could not do this now: ${msg || 'service unavailable'}. Nothing changed (503).`
  if (status === 400) return `The request was rejected: ${msg || 'bad request'} (400).`
  if (status === 404) return `Not found: ${msg || 'this cutover does not offer that endpoint'} (404).`
  return `Error ${status}${msg ? `: ${msg}` : ''}.`
}

/**
 * @param {'GET' | 'PUT' | 'POST'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  const gen = generation
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${token}` }
  /** @type {RequestInit} */
  const init = { method, headers, cache: 'no-store' }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'Cannot reach cutover: the control listener did not answer.')
  }
  const t = await res.text()
  let data = null
  try {
    data = t ? JSON.parse(t) : null
  } catch {
    data = null
  }
  if (res.status === 401) {
    if (gen === generation) signOut('The token was refused. Enter it again.')
    throw new ApiError(401, 'The token was refused.')
  }
  if (!res.ok) throw new ApiError(res.status, describeError(res.status, data))
  return data
}

// ---- sign in and out ----

/** @param {string} [message] */
function showLogin(message) {
  $('console').hidden = true
  $('logout').hidden = true
  $('login').hidden = false
  text($('login-error'), message || '')
  setConn('off', 'not connected')
  input('token').value = ''
  input('token').focus()
}

/** @param {string} message */
function signOut(message) {
  generation++
  token = null
  storageSet(null)
  stopPolling()
  lastEventId = 0
  lastRollback = null
  current = null
  $('events').textContent = ''
  showLogin(message)
}

/** @param {string} t @param {boolean} fromForm */
function connect(t, fromForm) {
  token = t
  const gen = ++generation
  button('connect').disabled = true
  void api('GET', '/v1/state')
    .then(
      (state) => {
        if (gen !== generation) return
        storageSet(t)
        $('login').hidden = true
        $('console').hidden = false
        $('logout').hidden = false
        sliderDirty = false
        renderState(state)
        if (fromForm) $('console').focus()
        startPolling()
      },
      (err) => {
        if (gen !== generation) return
        if (err.status !== 401) showLogin(err.message)
      },
    )
    .then(() => {
      button('connect').disabled = false
    })
}

// ---- polling ----

/** @param {'off' | 'live' | 'lost'} state @param {string} label */
function setConn(state, label) {
  const el = $('conn')
  el.setAttribute('data-state', state)
  text(el, label)
}

function startPolling() {
  stopPolling()
  poll()
}

function stopPolling() {
  if (pollTimer) clearTimeout(pollTimer)
  pollTimer = null
}

/** GET /v1/events answers at most this many; a full answer may have more behind it (after a restart: up to 10,000). */
const EVENTS_PAGE = 1000

function poll() {
  if (polling || token === null) return
  polling = true
  const gen = generation
  let behind = false
  void Promise.all([
    api('GET', '/v1/state'),
    api('GET', `/v1/events?since=${lastEventId}`),
    api('GET', '/v1/history').catch((err) => {
      if (err.status === 401) throw err
      return null
    }),
    api('GET', '/v1/shadow').catch((err) => {
      if (err.status === 401) throw err
      return null
    }),
  ])
    .then(
      ([state, events, history, shadow]) => {
        if (gen !== generation) return
        // events first: the gates panel explains a lock with the rollback event that set it
        renderEvents(events)
        behind = Array.isArray(events) && events.length >= EVENTS_PAGE
        renderState(state)
        if (history) renderHistory(history)
        renderShadow(shadow, state)
        setConn('live', `live, updated ${clockTime(new Date().toISOString())}`)
      },
      (err) => {
        if (gen !== generation) return
        setConn('lost', err.message)
      },
    )
    .then(() => {
      polling = false
      // still catching up with the event log: the next page at once
      if (gen === generation && token !== null) pollTimer = setTimeout(poll, behind ? 0 : POLL_MS)
    })
}

// ---- state ----

/** @param {StateView} s */
function renderState(s) {
  if (!s?.split) return
  current = s
  const { x, y } = s.split
  $('bar-x').style.width = `${x}%`
  $('bar-y').style.width = `${y}%`
  text($('label-x'), `x ${share(x)}`)
  text($('label-y'), `y ${share(y)}`)
  $('split-bar').setAttribute('aria-label', `Split: x ${share(x)}, y ${share(y)}`)

  $('lock').hidden = !s.locked
  text($('lock-reason'), s.locked ? s.lock_reason || 'rolled back' : '')

  if (!sliderDirty) input('slider').value = String(Math.round(y))
  updateSlider()

  // an action's success message stays only while the state is the one it spoke of
  if (resultFor !== null && resultFor !== stateSignature(s)) say('none', '')

  const r = s.rollout
  const running = r?.status === 'running'
  const paused = r?.status === 'paused'
  button('ro-start').disabled = !!r || s.locked
  button('ro-pause').disabled = !running
  button('ro-resume').disabled = !paused
  button('ro-promote').disabled = !r
  button('ro-abort').disabled = !r
  const ro = rolloutText(s)
  text($('rollout-status'), ro.status)
  $('rollout-holding').hidden = ro.holding === null
  text($('rollout-holding'), ro.holding ?? '')
  const steps = $('rollout-steps')
  steps.textContent = ''
  for (const step of ro.steps) {
    const li = document.createElement('li')
    li.setAttribute('data-at', step.at)
    if (step.at === 'current') li.setAttribute('aria-current', 'step')
    text(li, step.text)
    steps.appendChild(li)
  }

  renderGates(s)
  renderNodes(s)
  renderFleet(s)
}

function updateSlider() {
  const v = Number(input('slider').value)
  text($('slider-out'), `${v}%`)
  input('slider').setAttribute('aria-valuetext', `y ${v}%, x ${100 - v}%`)
  const y = current ? current.split.y : 0
  const changed = sliderDirty && v !== y
  const blocked = current && (current.locked || current.rollout)
  button('apply').disabled = !changed || !!blocked
  button('reset').disabled = !changed
  let hint = 'Arrow keys move 1%, Page Up and Page Down 10%. Nothing changes until you confirm.'
  if (current?.locked) hint = 'The split is locked after a rollback: unlock it before setting a new split.'
  else if (current?.rollout) hint = 'A rollout is steering the split: pause or abort it to set the split by hand.'
  text($('slider-hint'), hint)
}

/** @param {HTMLTableRowElement} row @param {string | number} value @param {string} [cls] */
function cell(row, value, cls) {
  const td = document.createElement('td')
  if (cls) td.className = cls
  text(td, String(value))
  row.appendChild(td)
  return td
}

/** @param {StateView} s */
function renderGates(s) {
  const g = gatesText(s, lastRollback)
  const verdict = $('verdict')
  verdict.setAttribute('data-verdict', g.verdict)
  $('gates-panel').setAttribute('data-verdict', g.verdict)
  text(verdict, g.pill)
  text($('gate-caption'), g.caption)
  const body = $('gate-figures')
  body.textContent = ''
  for (const r of g.rows) {
    const tr = document.createElement('tr')
    cell(tr, r.pool, `key-${r.pool}`)
    cell(tr, r.requests)
    cell(tr, r.errors)
    cell(tr, r.rate)
    cell(tr, r.p99)
    body.appendChild(tr)
  }
  const checks = $('gate-checks')
  checks.textContent = ''
  for (const c of g.checks) {
    const li = document.createElement('li')
    text(li, c)
    checks.appendChild(li)
  }
}

/**
 * Issue 13: shadow comparisons (the top mismatch classes) and each pool's config hashes;
 * hidden while neither shadow nor drift is configured.
 * @param {ShadowView | null} sh @param {StateView} s
 */
function renderShadow(sh, s) {
  const drift = s?.analysis?.drift === true
  $('shadow-panel').hidden = !(sh?.enabled || drift)
  if (sh?.enabled) {
    const t = sh.totals
    const rate = sh.mismatch_rate === null ? 'nothing compared yet' : `${(sh.mismatch_rate * 100).toFixed(2)}% disagree`
    text($('shadow-totals'), `${share(sh.share)} of x's requests copied to y: ${t.match} match, ${t.mismatch} differ (${rate}), ${t.error} failed on y, ${t.dropped} dropped`)
  } else {
    text($('shadow-totals'), 'Shadowing is off.')
  }
  const list = $('shadow-classes')
  list.textContent = ''
  for (const c of sh?.enabled ? sh.classes.slice(0, 5) : []) {
    const li = document.createElement('li')
    text(li, `${c.method} ${c.route}: x ${c.x_status} → y ${c.y_status}, ${c.count}× (${c.differences.join(', ')})`)
    list.appendChild(li)
  }
  /** @type {string[]} */
  const pools = []
  for (const pool of /** @type {PoolName[]} */ (['x', 'y'])) {
    const hashes = [...new Set((s?.pools?.[pool]?.nodes ?? []).map((n) => (n.config_hash ? n.config_hash.slice(0, 12) : 'unknown')))]
    if (hashes.length > 0) pools.push(`${pool}: ${hashes.join(', ')}`)
  }
  const refusal = s?.analysis?.drift_refusal
  /** @type {string[]} */
  const failed = []
  for (const pool of /** @type {PoolName[]} */ (['x', 'y'])) {
    for (const n of s?.pools?.[pool]?.nodes ?? []) if (n.config_hash_error) failed.push(`${pool} ${n.name}: ${n.config_hash_error}`)
  }
  const reads = failed.length > 0 ? ` — not read: ${failed.join('; ')}` : ''
  text($('drift-line'), drift ? `configuration_hash ${pools.join(' · ')}${refusal ? ` — ${refusal}` : ''}${reads}` : '')
}

/**
 * Issue 11: every replica of a fleet, the leader marked; hidden with the file backend.
 * @param {StateView} s
 */
function renderFleet(s) {
  const f = fleetText(s)
  $('fleet-panel').hidden = f === null
  const body = $('fleet-rows')
  body.textContent = ''
  if (f === null) return
  text($('fleet-summary'), f.summary)
  $('fleet-summary').setAttribute('data-backend', f.backendUp ? 'up' : 'down')
  for (const r of f.rows) {
    const tr = document.createElement('tr')
    tr.setAttribute('data-replica', r.id)
    cell(tr, r.leader ? `${r.id} (leads)` : r.id, r.leader ? 'replica leader' : 'replica')
    cell(tr, r.control)
    cell(tr, r.seen)
    cell(tr, r.x)
    cell(tr, r.y)
    cell(tr, r.nodes, 'health').setAttribute('data-h', r.healthy ? 'healthy' : 'unhealthy')
    body.appendChild(tr)
  }
}

/** @param {StateView} s */
function renderNodes(s) {
  const body = $('node-rows')
  body.textContent = ''
  for (const pool of /** @type {PoolName[]} */ (['x', 'y'])) {
    const nodes = s.pools?.[pool]?.nodes ?? []
    if (!nodes.length) {
      const empty = document.createElement('tr')
      cell(empty, pool, `key-${pool}`)
      cell(empty, 'no nodes').colSpan = 6
      body.appendChild(empty)
    }
    for (const n of nodes) {
      const tr = document.createElement('tr')
      cell(tr, pool, `key-${pool}`)
      cell(tr, n.name || n.url, 'node').title = n.url
      const [key, words] = nodeHealth(n)
      const td = cell(tr, words, 'health')
      td.setAttribute('data-h', key)
      if (n.last_probe?.error) td.title = `last probe: ${n.last_probe.error}`
      cell(tr, n.inflight)
      const [failure, whole] = lastFailureText(n)
      const failed = cell(tr, failure, 'last-failure')
      if (whole !== null) failed.title = whole
      const admin = cell(tr, adminText(n), 'admin')
      admin.setAttribute('data-admin', n.admin ?? 'ready')
      const actions = cell(tr, '', 'node-actions')
      for (const to of /** @type {const} */ (['drain', 'maint', 'ready'])) {
        if ((n.admin ?? 'ready') === to) continue
        const b = document.createElement('button')
        b.type = 'button'
        b.className = to === 'ready' ? 'primary' : 'danger'
        text(b, NODE_VERB[to])
        b.setAttribute('data-node-action', `${pool}/${n.name}/${to}`)
        b.addEventListener('click', () => onNodeAction(pool, n.name, to))
        actions.appendChild(b)
      }
      body.appendChild(tr)
    }
  }
}

// ---- per-node control (issue 14) ----

/** @type {Record<'drain' | 'maint' | 'ready', string>} */
const NODE_VERB = { drain: 'Drain', maint: 'Maint', ready: 'Ready' }

/** @type {Record<'drain' | 'maint' | 'ready', string>} */
const NODE_MEANS = {
  drain: 'takes no new requests; requests in flight finish and the probes go on',
  maint: 'takes no traffic and is not probed, until it is set ready',
  ready: 'goes back to normal (after maint, once the probes find it healthy)',
}

/** The admin column: the state, and a runtime weight when one is set. @param {NodeView} n */
function adminText(n) {
  const state = n.admin ?? 'ready'
  return n.weight_source === 'runtime' ? `${state}, weight ${n.weight} (config ${n.config_weight})` : state
}

/**
 * Drain, maint or ready one node, after a confirm; the last usable node of a pool with
 * traffic needs a second, explicit confirm (the API's force).
 * @param {PoolName} pool @param {string} name @param {'drain' | 'maint' | 'ready'} to @param {boolean} [force]
 */
function onNodeAction(pool, name, to, force = false) {
  const path = `/v1/nodes/${pool}/${encodeURIComponent(name)}`
  const go = () => {
    const label = `${NODE_VERB[to]} ${pool}/${name}`
    say('busy', `${label}...`)
    return api('PUT', path, force ? { admin: to, force: true } : { admin: to }).then(
      (state) => {
        say('ok', `${pool}/${name} is ${to}: it ${NODE_MEANS[to]}.`, state)
        renderState(state)
        poll()
      },
      (err) => {
        if (err.status === 401) return
        if (err.status === 409 && !force) {
          say('none', '')
          void ask(`Take the last node of ${pool} out?`, `${err.message} All of ${pool}'s traffic would go to the other pool.`, { ok: `${NODE_VERB[to]} anyway`, danger: true }).then((r) => {
            if (r) onNodeAction(pool, name, to, true)
          })
          return
        }
        say('error', `${label} failed. ${err.message}`, current)
      },
    )
  }
  if (force) return void go()
  void ask(`${NODE_VERB[to]} ${pool}/${name}?`, `${pool}/${name} ${NODE_MEANS[to]}.`, { ok: NODE_VERB[to], danger: to !== 'ready' }).then((r) => {
    if (r) void go()
  })
}

// ---- events ----

/** @param {EventView[]} list */
function renderEvents(list) {
  if (!Array.isArray(list) || list.length === 0) return
  const ol = $('events')
  for (const e of list) {
    if (e.id <= lastEventId) continue
    lastEventId = e.id
    if (e.type === 'rollback') lastRollback = e
    const li = document.createElement('li')
    li.setAttribute('data-type', e.type)
    li.setAttribute('data-tone', eventTone(e.type))
    const time = document.createElement('time')
    time.dateTime = e.at
    text(time, clockTime(e.at))
    const what = document.createElement('span')
    what.className = 'what'
    text(what, e.text ?? e.type)
    li.appendChild(time)
    li.appendChild(what)
    ol.insertBefore(li, ol.firstChild)
  }
  while (ol.children.length > MAX_EVENTS) ol.lastChild?.remove()
}

// ---- charts ----

/** @param {number} v */
function niceMax(v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * p >= v) return step * p
  return 10 * p
}

/** @param {string} name @param {Record<string, string | number>} attrs */
function svgEl(name, attrs) {
  const el = document.createElementNS(SVG_NS, name)
  for (const k of Object.keys(attrs)) el.setAttribute(k, String(attrs[k]))
  return el
}

/** @param {Array<number | null>} values @param {number} max */
function pathFor(values, max) {
  const n = values.length
  let d = ''
  let run = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (v === null || v === undefined) {
      run = 0
      continue
    }
    const px = n > 1 ? (i / (n - 1)) * W : 0
    const py = H - 2 - (Math.min(v, max) / max) * (H - 6)
    d += `${run === 0 ? 'M' : 'L'}${px.toFixed(1)} ${py.toFixed(1)}`
    // a lone point after a gap would draw nothing: give it a short stroke
    const next = values[i + 1]
    if (run === 0 && (next === null || next === undefined)) d += 'h6'
    run++
  }
  return d
}

/**
 * @param {string} id
 * @param {HistoryView} h
 * @param {'requests_per_s' | 'error_rate' | 'p99_ms'} key
 * @param {number} scale
 * @param {(v: number | null) => string} fmt
 */
function drawChart(id, h, key, scale, fmt) {
  const fig = $(id)
  const svg = /** @type {SVGSVGElement} */ (fig.querySelector('svg'))
  const range = chartRange(h)
  /** @param {HistoryPointView[]} points */
  const series = (points) => points.slice(range.start, range.now + 1).map((p) => (key === 'requests_per_s' || p[key] !== null ? p[key] : null))
  const xs = series(h.pools.x)
  const ys = series(h.pools.y)
  const all = /** @type {number[]} */ ([...xs, ...ys].filter((v) => v !== null))
  const max = niceMax(all.length ? Math.max(...all) * scale : 0) / scale
  svg.textContent = ''
  for (const f of [0.25, 0.5, 0.75]) {
    svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: (H * f).toFixed(1), y2: (H * f).toFixed(1), class: 'grid-line', 'vector-effect': 'non-scaling-stroke' }))
  }
  for (const [pool, values] of /** @type {Array<[PoolName, Array<number | null>]>} */ ([
    ['x', xs],
    ['y', ys],
  ])) {
    svg.appendChild(svgEl('path', { d: pathFor(values, max), class: `line line-${pool}`, 'vector-effect': 'non-scaling-stroke', 'data-points': values.filter((v) => v !== null && v > 0).length }))
  }
  text(/** @type {Element} */ (fig.querySelector('.max')), fmt(max))
  // a pool without traffic now has no figure now: blank, not its last one
  const parts = []
  for (const pool of /** @type {PoolName[]} */ (['x', 'y'])) {
    const v = nowFigure(h, pool, range.now, key, current ? current.split[pool] : 100)
    if (v !== null) parts.push(`${pool} ${fmt(v)}`)
  }
  const now = parts.join(', ')
  text(/** @type {Element} */ (fig.querySelector('.now')), now)
  text(/** @type {Element} */ (fig.querySelector('.since')), range.since)
  const name = fig.querySelector('.name')?.textContent ?? ''
  svg.setAttribute('aria-label', `${name} over the last ${range.since.replace(/ ago$/, '')}; ${now ? `now: ${now}` : 'no traffic now'}; top of scale ${fmt(max)}`)
}

/** @param {HistoryView} h */
function renderHistory(h) {
  if (!h?.pools) return
  drawChart('chart-rate', h, 'requests_per_s', 1, requestRate)
  drawChart('chart-errors', h, 'error_rate', 100, errorRate)
  drawChart('chart-p99', h, 'p99_ms', 1, latency)
}

// ---- actions ----

/** @type {((r: { reason: string } | null) => void) | null} */
let confirmResolve = null
/** @type {Element | null} */
let confirmReturn = null

/**
 * @param {string} title
 * @param {string} message
 * @param {{ ok?: string, danger?: boolean, reason?: boolean }} [opts]
 * @returns {Promise<{ reason: string } | null>}
 */
function ask(title, message, opts = {}) {
  const dlg = /** @type {HTMLDialogElement} */ ($('confirm'))
  text($('confirm-title'), title)
  text($('confirm-text'), message)
  text($('confirm-ok'), opts.ok || 'Confirm')
  $('confirm-ok').className = opts.danger ? 'danger' : 'primary'
  $('confirm-reason-row').hidden = !opts.reason
  input('confirm-reason').value = ''
  confirmReturn = document.activeElement
  return new Promise((resolve) => {
    confirmResolve = resolve
    dlg.showModal()
    ;(opts.reason ? $('confirm-reason') : $('confirm-ok')).focus()
  })
}

/** @param {boolean} ok */
function closeConfirm(ok) {
  const dlg = /** @type {HTMLDialogElement} */ ($('confirm'))
  const resolve = confirmResolve
  confirmResolve = null
  if (dlg.open) dlg.close()
  if (confirmReturn instanceof HTMLElement) confirmReturn.focus()
  if (resolve) resolve(ok ? { reason: input('confirm-reason').value.trim() } : null)
}

/**
 * Show an action's outcome. A success or a failure speaks of the state it saw; once the
 * state moves on (a gate rollback, a rollout started elsewhere) it is old news and goes.
 * @param {'none' | 'busy' | 'ok' | 'error'} kind
 * @param {string} message
 * @param {StateView | null} [about] the state the message speaks of
 */
function say(kind, message, about = null) {
  const el = $('result')
  el.setAttribute('data-kind', kind)
  text(el, message)
  resultFor = about ? stateSignature(about) : null
}

/**
 * @param {string} label
 * @param {'PUT' | 'POST'} method
 * @param {string} path
 * @param {unknown} body
 * @param {string} done
 */
function act(label, method, path, body, done) {
  say('busy', `${label}...`)
  return api(method, path, body).then(
    (state) => {
      say('ok', done, state)
      renderState(state)
      poll()
    },
    (err) => {
      if (err.status === 401) return
      say('error', `${label} failed. ${err.message}`, current)
    },
  )
}

function onApply() {
  const v = Number(input('slider').value)
  const y = current ? current.split.y : 0
  void ask('Set the split?', `Send ${v}% of traffic to y and ${100 - v}% to x (now y ${share(y)}).`, { ok: `Set y to ${v}%` }).then((r) => {
    if (!r) return
    void act('Setting the split', 'PUT', '/v1/split', { y: v }, `Split set: y ${v}%, x ${100 - v}%.`).then(() => {
      sliderDirty = false
      updateSlider()
    })
  })
}

function onRollback() {
  void ask('Roll back to x?', 'All traffic goes to x now, any rollout stops, and the split stays locked until someone unlocks it.', { ok: 'Roll back', danger: true, reason: true }).then((r) => {
    if (!r) return
    sliderDirty = false
    void act('Rolling back', 'POST', '/v1/rollback', r.reason ? { reason: r.reason } : {}, 'Rolled back: all traffic on x, split locked.')
  })
}

function wire() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const t = input('token').value.trim()
    if (!t) {
      text($('login-error'), 'Enter the control token.')
      input('token').focus()
      return
    }
    text($('login-error'), '')
    connect(t, true)
  })
  $('logout').addEventListener('click', () => signOut('Token forgotten. Enter it to connect again.'))
  $('slider').addEventListener('input', () => {
    sliderDirty = true
    updateSlider()
  })
  $('reset').addEventListener('click', () => {
    sliderDirty = false
    if (current) input('slider').value = String(Math.round(current.split.y))
    updateSlider()
    $('slider').focus()
  })
  $('apply').addEventListener('click', onApply)
  $('rollback').addEventListener('click', onRollback)
  $('unlock').addEventListener('click', () => act('Unlocking', 'POST', '/v1/unlock', undefined, 'Unlocked: the split stays where it is and can be changed again.'))
  $('ro-start').addEventListener('click', () => {
    void ask('Start the rollout plan?', 'The configured rollout steps start now: the split moves to the first step at or above the share of y now.', { ok: 'Start' }).then((r) => {
      if (r) void act('Starting the rollout', 'POST', '/v1/rollout', {}, 'Rollout started.')
    })
  })
  $('ro-pause').addEventListener('click', () => act('Pausing the rollout', 'POST', '/v1/rollout/pause', undefined, 'Rollout paused: the split holds where it is.'))
  $('ro-resume').addEventListener('click', () => act('Resuming the rollout', 'POST', '/v1/rollout/resume', undefined, 'Rollout resumed.'))
  $('ro-promote').addEventListener('click', () => {
    void ask('Promote now?', 'y goes to 100% at once and the rollout finishes, skipping the remaining holds.', { ok: 'Promote to 100%' }).then((r) => {
      if (r) void act('Promoting', 'POST', '/v1/rollout/promote', undefined, 'Promoted: y at 100%.')
    })
  })
  $('ro-abort').addEventListener('click', () => {
    void ask('Abort the rollout?', 'Aborting rolls back: all traffic to x, split locked.', { ok: 'Abort and roll back', danger: true, reason: true }).then((r) => {
      if (r) void act('Aborting the rollout', 'POST', '/v1/rollout/abort', r.reason ? { reason: r.reason } : {}, 'Rollout aborted and rolled back to x.')
    })
  })
  $('confirm-ok').addEventListener('click', () => closeConfirm(true))
  $('confirm-cancel').addEventListener('click', () => closeConfirm(false))
  $('confirm').addEventListener('cancel', (ev) => {
    ev.preventDefault()
    closeConfirm(false)
  })
  $('confirm-reason').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault()
      closeConfirm(true)
    }
  })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && token !== null) poll()
  })
}

wire()
const saved = storageGet()
if (saved) connect(saved, false)
else showLogin('')
