/**
 * The console's HTML: structure only. Script and style come from /console/app.js and
 * /console/app.css (the CSP allows nothing inline); ./page-js.ts fills it in.
 */

export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>cutover console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<a class="skip" href="#console">Skip to the console</a>
<header class="top">
  <h1>cutover <span class="sub">console</span></h1>
  <p id="conn" class="conn" data-state="off">not connected</p>
  <button id="logout" type="button" class="quiet" hidden>Forget token</button>
</header>

<main>
<section id="login" class="panel login" aria-labelledby="login-title" hidden>
  <h2 id="login-title">Connect to the control API</h2>
  <form id="login-form" novalidate>
    <label for="token">Control token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="token-hint login-error">
    <p id="token-hint" class="hint">The value of <code>control.token</code>. Kept in this browser tab only; closing the tab forgets it.</p>
    <p id="login-error" class="error" role="alert"></p>
    <button id="connect" type="submit" class="primary">Connect</button>
  </form>
</section>

<div id="console" tabindex="-1" hidden>
  <p id="result" class="result" role="status" aria-live="polite" data-kind="none"></p>
  <div class="grid">

  <section class="panel split" aria-labelledby="split-title">
    <h2 id="split-title">Split</h2>
    <div id="lock" class="lock" hidden>
      <p><strong>Split locked.</strong> <span id="lock-reason"></span></p>
      <button id="unlock" type="button">Unlock</button>
    </div>
    <div class="bar-labels" aria-hidden="true"><span class="key-x" id="label-x">x 100%</span><span class="key-y" id="label-y">y 0%</span></div>
    <div class="bar" id="split-bar" role="img" aria-label="x 100%, y 0%">
      <div class="bar-x" id="bar-x"></div><div class="bar-y" id="bar-y"></div>
    </div>
    <div class="steer">
      <label for="slider">Share of y, the new pool</label>
      <div class="slider-row">
        <input id="slider" type="range" min="0" max="100" step="1" value="0" aria-describedby="slider-hint">
        <output id="slider-out" for="slider">0%</output>
      </div>
      <p id="slider-hint" class="hint">Arrow keys move 1%, Page Up and Page Down 10%. Nothing changes until you confirm.</p>
      <div class="actions">
        <button id="apply" type="button" class="primary" disabled>Set split…</button>
        <button id="reset" type="button" disabled>Undo</button>
        <button id="rollback" type="button" class="danger">Roll back to x…</button>
      </div>
    </div>
  </section>

  <section class="panel rollout" aria-labelledby="rollout-title">
    <h2 id="rollout-title">Rollout</h2>
    <p id="rollout-status">No rollout running.</p>
    <p id="rollout-holding" class="hint" hidden></p>
    <ol id="rollout-steps" class="steps"></ol>
    <div class="actions">
      <button id="ro-start" type="button">Start plan…</button>
      <button id="ro-pause" type="button">Pause</button>
      <button id="ro-resume" type="button">Resume</button>
      <button id="ro-promote" type="button">Promote…</button>
      <button id="ro-abort" type="button" class="danger">Abort…</button>
    </div>
  </section>

  <section class="panel traffic wide" aria-labelledby="traffic-title">
    <div class="panel-head">
      <h2 id="traffic-title">Traffic, last 15 minutes</h2>
      <p class="legend"><span class="key-x">x, old pool</span><span class="key-y">y, new pool</span></p>
    </div>
    <div class="charts">
      <figure class="chart" id="chart-rate">
        <figcaption><span class="name">Requests per second</span> <span class="now"></span></figcaption>
        <div class="plot"><span class="max"></span><svg viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="Requests per second"></svg></div>
        <div class="axis" aria-hidden="true"><span>15 min ago</span><span>now</span></div>
      </figure>
      <figure class="chart" id="chart-errors">
        <figcaption><span class="name">Error rate (5xx)</span> <span class="now"></span></figcaption>
        <div class="plot"><span class="max"></span><svg viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="Error rate"></svg></div>
        <div class="axis" aria-hidden="true"><span>15 min ago</span><span>now</span></div>
      </figure>
      <figure class="chart" id="chart-p99">
        <figcaption><span class="name">p99 latency</span> <span class="now"></span></figcaption>
        <div class="plot"><span class="max"></span><svg viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="p99 latency"></svg></div>
        <div class="axis" aria-hidden="true"><span>15 min ago</span><span>now</span></div>
      </figure>
    </div>
  </section>

  <section class="panel gates" aria-labelledby="gates-title">
    <div class="panel-head">
      <h2 id="gates-title">Gates</h2>
      <p id="verdict" class="pill" data-verdict="none">no verdict</p>
    </div>
    <table class="figures">
      <caption class="sr">Gate window figures per pool</caption>
      <thead><tr><th scope="col">Pool</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Error rate</th><th scope="col">p99</th></tr></thead>
      <tbody id="gate-figures"></tbody>
    </table>
    <ul id="gate-checks" class="checks"></ul>
  </section>

  <section class="panel nodes" aria-labelledby="nodes-title">
    <h2 id="nodes-title">Nodes</h2>
    <table class="figures">
      <caption class="sr">Nodes of both pools with their health and requests in flight</caption>
      <thead><tr><th scope="col">Pool</th><th scope="col">Node</th><th scope="col">Health</th><th scope="col">In flight</th></tr></thead>
      <tbody id="node-rows"></tbody>
    </table>
  </section>

  <section class="panel events wide" aria-labelledby="events-title">
    <h2 id="events-title">Event log</h2>
    <ol id="events" class="event-list" tabindex="0" aria-labelledby="events-title" aria-live="polite" aria-relevant="additions"></ol>
  </section>

  </div>
</div>
</main>

<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <h2 id="confirm-title">Confirm</h2>
  <p id="confirm-text"></p>
  <div id="confirm-reason-row" class="reason" hidden>
    <label for="confirm-reason">Reason, recorded in the event log</label>
    <input id="confirm-reason" type="text" maxlength="500" autocomplete="off">
  </div>
  <div class="actions">
    <button id="confirm-cancel" type="button">Cancel</button>
    <button id="confirm-ok" type="button" class="primary">Confirm</button>
  </div>
</dialog>
</body>
</html>
`
