/**
 * The console's script, served at /console/app.js: polls the /v1 API, renders the page and
 * sends the operator's actions. Plain browser JavaScript in a string (no build step); it
 * uses no backticks so it can live in this template literal. Data is written with
 * textContent only, never as HTML.
 */

export const PAGE_JS = String.raw`(function () {
'use strict';

var TOKEN_KEY = 'cutover.token';
var POLL_MS = 2000;
var MAX_EVENTS = 300;
var SVG_NS = 'http://www.w3.org/2000/svg';
var W = 600, H = 150;

var token = null;
var lastEventId = 0;
var current = null;
var sliderDirty = false;
var pollTimer = null;
var polling = false;
var generation = 0;

function $(id) { return document.getElementById(id); }
function text(el, s) { el.textContent = s; }
function fmtPct(v) { return (Math.round(v * 100) / 100) + '%'; }

function storageGet() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
function storageSet(v) { try { if (v === null) sessionStorage.removeItem(TOKEN_KEY); else sessionStorage.setItem(TOKEN_KEY, v); } catch (e) { /* private mode: keep it in memory */ } }

// ---- the API ----

function ApiError(status, message) { this.status = status; this.message = message; }

function describeError(status, data) {
  var msg = data && (data.error || data.message);
  if (status === 409) return 'Refused: ' + (msg || 'the current state does not allow this') + ' (409).';
  if (status === 503) return 'cutover could not do this now: ' + (msg || 'service unavailable') + '. Nothing changed (503).';
  if (status === 400) return 'The request was rejected: ' + (msg || 'bad request') + ' (400).';
  if (status === 404) return 'Not found: ' + (msg || 'this cutover does not offer that endpoint') + ' (404).';
  return 'Error ' + status + (msg ? ': ' + msg : '') + '.';
}

function api(method, path, body) {
  var gen = generation;
  var headers = { authorization: 'Bearer ' + token };
  var init = { method: method, headers: headers, cache: 'no-store' };
  if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  return fetch(path, init).then(function (res) {
    return res.text().then(function (t) {
      var data = null;
      try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
      if (res.status === 401) {
        if (gen === generation) signOut('The token was refused. Enter it again.');
        throw new ApiError(401, 'The token was refused.');
      }
      if (!res.ok) throw new ApiError(res.status, describeError(res.status, data));
      return data;
    });
  }, function () {
    throw new ApiError(0, 'Cannot reach cutover: the control listener did not answer.');
  });
}

// ---- sign in and out ----

function showLogin(message) {
  $('console').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  text($('login-error'), message || '');
  setConn('off', 'not connected');
  $('token').value = '';
  $('token').focus();
}

function signOut(message) {
  generation++;
  token = null;
  storageSet(null);
  stopPolling();
  lastEventId = 0;
  current = null;
  $('events').textContent = '';
  showLogin(message);
}

function connect(t, fromForm) {
  token = t;
  var gen = ++generation;
  $('connect').disabled = true;
  api('GET', '/v1/state').then(function (state) {
    if (gen !== generation) return;
    storageSet(t);
    $('login').hidden = true;
    $('console').hidden = false;
    $('logout').hidden = false;
    sliderDirty = false;
    renderState(state);
    if (fromForm) $('console').focus();
    startPolling();
  }, function (err) {
    if (gen !== generation) return;
    if (err.status !== 401) showLogin(err.message);
  }).then(function () { $('connect').disabled = false; });
}

// ---- polling ----

function setConn(state, label) {
  var el = $('conn');
  el.setAttribute('data-state', state);
  text(el, label);
}

function clock(d) {
  var p = function (n) { return (n < 10 ? '0' : '') + n; };
  return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
}

function startPolling() { stopPolling(); poll(); }
function stopPolling() { if (pollTimer) clearTimeout(pollTimer); pollTimer = null; }

function poll() {
  if (polling || token === null) return;
  polling = true;
  var gen = generation;
  Promise.all([
    api('GET', '/v1/state'),
    api('GET', '/v1/events?since=' + lastEventId),
    api('GET', '/v1/history').catch(function (err) { if (err.status === 401) throw err; return null; }),
  ]).then(function (r) {
    if (gen !== generation) return;
    renderState(r[0]);
    renderEvents(r[1]);
    if (r[2]) renderHistory(r[2]);
    setConn('live', 'live, updated ' + clock(new Date()));
  }, function (err) {
    if (gen !== generation) return;
    setConn('lost', err.message);
  }).then(function () {
    polling = false;
    if (gen === generation && token !== null) pollTimer = setTimeout(poll, POLL_MS);
  });
}

// ---- state ----

function durationText(ms) {
  var s = Math.max(0, Math.round(ms / 1000));
  var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return h + 'h ' + m + 'm';
  if (m) return sec ? m + 'm ' + (sec < 10 ? '0' : '') + sec + 's' : m + 'm';
  return sec + 's';
}

function renderState(s) {
  if (!s || !s.split) return;
  current = s;
  var y = s.split.y, x = s.split.x;
  $('bar-x').style.width = x + '%';
  $('bar-y').style.width = y + '%';
  text($('label-x'), 'x ' + fmtPct(x));
  text($('label-y'), 'y ' + fmtPct(y));
  $('split-bar').setAttribute('aria-label', 'Split: x ' + fmtPct(x) + ', y ' + fmtPct(y));

  $('lock').hidden = !s.locked;
  text($('lock-reason'), s.locked ? (s.lock_reason || 'rolled back') : '');

  if (!sliderDirty) { $('slider').value = String(Math.round(y)); }
  updateSlider();

  var r = s.rollout;
  var running = r && r.status === 'running', paused = r && r.status === 'paused';
  $('ro-start').disabled = !!r || s.locked;
  $('ro-pause').disabled = !running;
  $('ro-resume').disabled = !paused;
  $('ro-promote').disabled = !r;
  $('ro-abort').disabled = !r;
  var steps = $('rollout-steps');
  steps.textContent = '';
  if (!r) {
    text($('rollout-status'), s.locked ? 'No rollout running. Unlock the split before starting one.' : 'No rollout running.');
    $('rollout-holding').hidden = true;
  } else {
    var n = r.steps.length;
    var line = (running ? 'Running' : 'Paused') + ': step ' + (r.step + 1) + ' of ' + n + ', y ' + fmtPct(r.y);
    var step = r.steps[r.step];
    if (r.step < n - 1 && step && step.hold > 0) line += running ? ', ' + durationText(r.hold_left_ms) + ' left in this hold' : ', ' + durationText(r.hold_left_ms) + ' of the hold left when resumed';
    text($('rollout-status'), line + '.');
    $('rollout-holding').hidden = !r.holding;
    text($('rollout-holding'), r.holding ? 'Not moving on yet: ' + r.holding : '');
    for (var i = 0; i < n; i++) {
      var li = document.createElement('li');
      li.setAttribute('data-at', i < r.step ? 'done' : i === r.step ? 'current' : 'todo');
      if (i === r.step) li.setAttribute('aria-current', 'step');
      text(li, (i + 1) + '. y ' + fmtPct(r.steps[i].y) + (r.steps[i].hold ? ', hold ' + durationText(r.steps[i].hold) : ''));
      steps.appendChild(li);
    }
  }

  renderGates(s.gates);
  renderNodes(s.pools);
}

function updateSlider() {
  var v = Number($('slider').value);
  text($('slider-out'), v + '%');
  $('slider').setAttribute('aria-valuetext', 'y ' + v + '%, x ' + (100 - v) + '%');
  var y = current ? current.split.y : 0;
  var changed = sliderDirty && v !== y;
  var blocked = current && (current.locked || current.rollout);
  $('apply').disabled = !changed || !!blocked;
  $('reset').disabled = !changed;
  var hint = 'Arrow keys move 1%, Page Up and Page Down 10%. Nothing changes until you confirm.';
  if (current && current.locked) hint = 'The split is locked after a rollback: unlock it before setting a new split.';
  else if (current && current.rollout) hint = 'A rollout is steering the split: pause or abort it to set the split by hand.';
  text($('slider-hint'), hint);
}

function fmtRate(v) { return v === null || v === undefined ? '-' : (Math.round(v * 10000) / 100) + '%'; }
function fmtMs(v) { return v === null || v === undefined || !isFinite(v) ? '-' : (v >= 100 ? Math.round(v) : Math.round(v * 10) / 10) + ' ms'; }

function cell(row, value, cls) {
  var td = document.createElement('td');
  if (cls) td.className = cls;
  text(td, String(value));
  row.appendChild(td);
  return td;
}

function renderGates(g) {
  if (!g) return;
  var verdict = $('verdict');
  verdict.setAttribute('data-verdict', g.verdict || 'none');
  text(verdict, g.verdict === 'pass' ? 'gates pass' : g.verdict === 'fail' ? 'gates fail' : 'no verdict yet');
  var body = $('gate-figures');
  body.textContent = '';
  ['x', 'y'].forEach(function (pool) {
    var f = g[pool];
    if (!f) return;
    var tr = document.createElement('tr');
    cell(tr, pool, 'key-' + pool);
    cell(tr, f.requests);
    cell(tr, f.errors);
    cell(tr, fmtRate(f.error_rate));
    cell(tr, f.requests ? fmtMs(f.p99_ms) : '-');
    body.appendChild(tr);
  });
  var checks = $('gate-checks');
  checks.textContent = '';
  (g.checks || []).forEach(function (c) {
    var li = document.createElement('li');
    text(li, c.gate + ': ' + c.verdict + ', ' + c.detail);
    checks.appendChild(li);
  });
}

function healthOf(n) {
  if (n.ejected) return ['ejected', 'ejected' + (n.ejected_until ? ' until ' + clock(new Date(n.ejected_until)) : '')];
  if (n.healthy === true) return ['healthy', 'healthy'];
  if (n.healthy === false) return ['unhealthy', 'unhealthy'];
  return ['unknown', 'no probe verdict yet'];
}

function renderNodes(pools) {
  var body = $('node-rows');
  body.textContent = '';
  if (!pools) return;
  ['x', 'y'].forEach(function (pool) {
    var nodes = (pools[pool] && pools[pool].nodes) || [];
    if (!nodes.length) {
      var empty = document.createElement('tr');
      cell(empty, pool, 'key-' + pool);
      cell(empty, 'no nodes').colSpan = 3;
      body.appendChild(empty);
    }
    nodes.forEach(function (n) {
      var tr = document.createElement('tr');
      cell(tr, pool, 'key-' + pool);
      cell(tr, n.name || n.url, 'node').title = n.url;
      var h = healthOf(n);
      var td = cell(tr, h[1], 'health');
      td.setAttribute('data-h', h[0]);
      if (n.last_probe && n.last_probe.error) td.title = 'last probe: ' + n.last_probe.error;
      cell(tr, n.inflight);
      body.appendChild(tr);
    });
  });
}

// ---- events ----

var BAD = /^(rollback|gate\.failed|node\.unhealthy|node\.ejected|state\.unreadable|config\.reload_refused|rollout\.paused)$/;
var GOOD = /^(node\.healthy|node\.returned|rollout\.done|unlock)$/;

function stepsText(steps) {
  return steps.map(function (st) { return 'y ' + fmtPct(st.y) + (st.hold ? ' for ' + durationText(st.hold) : ''); }).join(', ');
}

function eventSummary(e) {
  var parts = [];
  if (e.type === 'split.changed' || e.type === 'rollback' || e.type === 'rollout.step' || e.type === 'rollout.promoted' || e.type === 'rollout.done') {
    if (typeof e.from === 'number' && typeof e.to === 'number') parts.push('y ' + fmtPct(e.from) + ' to ' + fmtPct(e.to));
  }
  if (e.reason) parts.push(String(e.reason));
  if (e.pool && e.node) parts.push(e.pool + ': ' + e.node);
  if (e.type.indexOf('node.') === 0 && e.cause) parts.push(String(e.cause));
  else if (e.cause) parts.push('by ' + e.cause);
  var skip = { id: 1, at: 1, type: 1, from: 1, to: 1, reason: 1, pool: 1, node: 1, cause: 1 };
  Object.keys(e).forEach(function (k) {
    if (skip[k] || e[k] === null || e[k] === undefined || e[k] === '' || e[k] === false) return;
    if (e[k] === true) { parts.push(k.replace(/_/g, ' ')); return; }
    if (Array.isArray(e[k]) && e[k].length === 0) return;
    var v = k === 'steps' && Array.isArray(e[k]) ? stepsText(e[k]) : typeof e[k] === 'object' ? JSON.stringify(e[k]) : String(e[k]);
    parts.push(k.replace(/_/g, ' ') + ' ' + (v.length > 120 ? v.slice(0, 117) + '...' : v));
  });
  return parts.join('; ');
}

function renderEvents(list) {
  if (!Array.isArray(list) || list.length === 0) return;
  var ol = $('events');
  list.forEach(function (e) {
    if (e.id <= lastEventId) return;
    lastEventId = e.id;
    var li = document.createElement('li');
    li.setAttribute('data-type', e.type);
    li.setAttribute('data-tone', BAD.test(e.type) ? 'bad' : GOOD.test(e.type) ? 'good' : 'plain');
    var t = document.createElement('time');
    t.dateTime = e.at;
    text(t, clock(new Date(e.at)));
    var type = document.createElement('span');
    type.className = 'type';
    text(type, e.type);
    var what = document.createElement('span');
    what.className = 'what';
    text(what, eventSummary(e));
    li.appendChild(t); li.appendChild(type); li.appendChild(what);
    ol.insertBefore(li, ol.firstChild);
  });
  while (ol.children.length > MAX_EVENTS) ol.removeChild(ol.lastChild);
}

// ---- charts ----

function niceMax(v) {
  if (!(v > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  var steps = [1, 2, 2.5, 5, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
  return 10 * p;
}

function svgEl(name, attrs) {
  var el = document.createElementNS(SVG_NS, name);
  for (var k in attrs) el.setAttribute(k, attrs[k]);
  return el;
}

function pathFor(values, max) {
  var n = values.length, d = '', run = 0, points = 0;
  for (var i = 0; i < n; i++) {
    var v = values[i];
    if (v === null || v === undefined) { run = 0; continue; }
    var px = n > 1 ? (i / (n - 1)) * W : 0;
    var py = H - 2 - (Math.min(v, max) / max) * (H - 6);
    d += (run === 0 ? 'M' : 'L') + px.toFixed(1) + ' ' + py.toFixed(1);
    // a lone point after a gap would draw nothing: give it a short stroke
    var next = values[i + 1];
    if (run === 0 && (next === null || next === undefined)) d += 'h3';
    run++;
    if (v > 0) points++;
  }
  return { d: d, points: points };
}

function drawChart(id, xs, ys, nowIndex, scale, fmt) {
  var fig = $(id);
  var svg = fig.querySelector('svg');
  var all = xs.concat(ys).filter(function (v) { return v !== null && v !== undefined; });
  var max = niceMax(all.length ? Math.max.apply(null, all) * scale : 0) / scale;
  svg.textContent = '';
  [0.25, 0.5, 0.75].forEach(function (f) {
    svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: (H * f).toFixed(1), y2: (H * f).toFixed(1), 'class': 'grid-line', 'vector-effect': 'non-scaling-stroke' }));
  });
  [['x', xs], ['y', ys]].forEach(function (s) {
    var p = pathFor(s[1], max);
    svg.appendChild(svgEl('path', { d: p.d, 'class': 'line line-' + s[0], 'vector-effect': 'non-scaling-stroke', 'data-points': p.points }));
  });
  var lastX = lastValue(xs, nowIndex), lastY = lastValue(ys, nowIndex);
  text(fig.querySelector('.max'), fmt(max));
  var now = 'x ' + fmt(lastX) + ', y ' + fmt(lastY);
  text(fig.querySelector('.now'), now);
  svg.setAttribute('aria-label', fig.querySelector('.name').textContent + ' over the last 15 minutes; latest: ' + now + '; top of scale ' + fmt(max));
}

function lastValue(values, from) {
  for (var i = Math.min(from, values.length - 1); i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
  return null;
}

function renderHistory(h) {
  if (!h || !h.pools) return;
  var px = h.pools.x || [], py = h.pools.y || [];
  function col(points, key) { return points.map(function (p) { return p[key]; }); }
  // a slot that began under 2 s ago says little yet: the latest figures come from the one before
  var n = Math.max(px.length, py.length);
  var last = px[px.length - 1] || py[py.length - 1];
  var nowIndex = last && typeof h.now === 'number' && h.now - last.t < 2000 ? n - 2 : n - 1;
  drawChart('chart-rate', col(px, 'requests_per_s'), col(py, 'requests_per_s'), nowIndex, 1, function (v) { return v === null ? '-' : (v >= 100 ? Math.round(v) : Math.round(v * 10) / 10) + ' req/s'; });
  drawChart('chart-errors', col(px, 'error_rate'), col(py, 'error_rate'), nowIndex, 100, function (v) { return v === null ? '-' : (Math.round(v * 10000) / 100) + '%'; });
  drawChart('chart-p99', col(px, 'p99_ms'), col(py, 'p99_ms'), nowIndex, 1, fmtMs);
}

// ---- actions ----

var confirmResolve = null;
var confirmReturn = null;

function ask(title, message, opts) {
  opts = opts || {};
  var dlg = $('confirm');
  text($('confirm-title'), title);
  text($('confirm-text'), message);
  text($('confirm-ok'), opts.ok || 'Confirm');
  $('confirm-ok').className = opts.danger ? 'danger' : 'primary';
  $('confirm-reason-row').hidden = !opts.reason;
  $('confirm-reason').value = '';
  confirmReturn = document.activeElement;
  return new Promise(function (resolve) {
    confirmResolve = resolve;
    dlg.showModal();
    (opts.reason ? $('confirm-reason') : $('confirm-ok')).focus();
  });
}

function closeConfirm(ok) {
  var dlg = $('confirm');
  var resolve = confirmResolve;
  confirmResolve = null;
  if (dlg.open) dlg.close();
  if (confirmReturn && confirmReturn.focus) confirmReturn.focus();
  if (resolve) resolve(ok ? { reason: $('confirm-reason').value.trim() } : null);
}

function say(kind, message) {
  var el = $('result');
  el.setAttribute('data-kind', kind);
  text(el, message);
}

function act(label, method, path, body, done) {
  say('busy', label + '...');
  return api(method, path, body).then(function (state) {
    renderState(state);
    say('ok', done);
    poll();
  }, function (err) {
    if (err.status === 401) return;
    say('error', label + ' failed. ' + err.message);
  });
}

function onApply() {
  var v = Number($('slider').value);
  var y = current ? current.split.y : 0;
  ask('Set the split?', 'Send ' + v + '% of traffic to y and ' + (100 - v) + '% to x (now y ' + fmtPct(y) + ').', { ok: 'Set y to ' + v + '%' }).then(function (r) {
    if (!r) return;
    act('Setting the split', 'PUT', '/v1/split', { y: v }, 'Split set: y ' + v + '%, x ' + (100 - v) + '%.').then(function () {
      sliderDirty = false;
      updateSlider();
    });
  });
}

function onRollback() {
  ask('Roll back to x?', 'All traffic goes to x now, any rollout stops, and the split stays locked until someone unlocks it.', { ok: 'Roll back', danger: true, reason: true }).then(function (r) {
    if (!r) return;
    sliderDirty = false;
    act('Rolling back', 'POST', '/v1/rollback', r.reason ? { reason: r.reason } : {}, 'Rolled back: all traffic on x, split locked.');
  });
}

function wire() {
  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = $('token').value.trim();
    if (!t) { text($('login-error'), 'Enter the control token.'); $('token').focus(); return; }
    text($('login-error'), '');
    connect(t, true);
  });
  $('logout').addEventListener('click', function () { signOut('Token forgotten. Enter it to connect again.'); });
  $('slider').addEventListener('input', function () { sliderDirty = true; updateSlider(); });
  $('reset').addEventListener('click', function () { sliderDirty = false; if (current) $('slider').value = String(Math.round(current.split.y)); updateSlider(); $('slider').focus(); });
  $('apply').addEventListener('click', onApply);
  $('rollback').addEventListener('click', onRollback);
  $('unlock').addEventListener('click', function () { act('Unlocking', 'POST', '/v1/unlock', undefined, 'Unlocked: the split stays where it is and can be changed again.'); });
  $('ro-start').addEventListener('click', function () {
    ask('Start the rollout plan?', 'The configured rollout steps start now; the split moves to the first step at once.', { ok: 'Start' }).then(function (r) {
      if (r) act('Starting the rollout', 'POST', '/v1/rollout', {}, 'Rollout started.');
    });
  });
  $('ro-pause').addEventListener('click', function () { act('Pausing the rollout', 'POST', '/v1/rollout/pause', undefined, 'Rollout paused: the split holds where it is.'); });
  $('ro-resume').addEventListener('click', function () { act('Resuming the rollout', 'POST', '/v1/rollout/resume', undefined, 'Rollout resumed.'); });
  $('ro-promote').addEventListener('click', function () {
    ask('Promote now?', 'y goes to 100% at once and the rollout finishes, skipping the remaining holds.', { ok: 'Promote to 100%' }).then(function (r) {
      if (r) act('Promoting', 'POST', '/v1/rollout/promote', undefined, 'Promoted: y at 100%.');
    });
  });
  $('ro-abort').addEventListener('click', function () {
    ask('Abort the rollout?', 'Aborting rolls back: all traffic to x, split locked.', { ok: 'Abort and roll back', danger: true, reason: true }).then(function (r) {
      if (r) act('Aborting the rollout', 'POST', '/v1/rollout/abort', r.reason ? { reason: r.reason } : {}, 'Rollout aborted and rolled back to x.');
    });
  });
  $('confirm-ok').addEventListener('click', function () { closeConfirm(true); });
  $('confirm-cancel').addEventListener('click', function () { closeConfirm(false); });
  $('confirm').addEventListener('cancel', function (ev) { ev.preventDefault(); closeConfirm(false); });
  $('confirm-reason').addEventListener('keydown', function (ev) { if (ev.key === 'Enter') { ev.preventDefault(); closeConfirm(true); } });
  document.addEventListener('visibilitychange', function () { if (!document.hidden && token !== null) poll(); });
}

wire();
var saved = storageGet();
if (saved) connect(saved, false); else showLogin('');
})();
`
