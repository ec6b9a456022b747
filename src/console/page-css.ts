/** The console's stylesheet: calm colours, large targets, visible focus, one column below 600 px. */

export const PAGE_CSS = String.raw`
:root {
  --bg: #f4f5f7;
  --panel: #ffffff;
  --line: #d9dde3;
  --text: #1c2430;
  --muted: #5a6472;
  --x: #2f6db5;
  --y: #c06a12;
  --ok: #1f7a4a;
  --warn: #9a6200;
  --bad: #b42318;
  --primary: #1f4e8c;
  --focus: #ffbf47;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--text);
  background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
[hidden] { display: none !important; }
h1, h2 { margin: 0; font-weight: 600; }
h1 { font-size: 1.15rem; }
h1 .sub { color: var(--muted); font-weight: 400; }
h2 { font-size: 1rem; margin-bottom: .6rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; top: 0; background: var(--panel); padding: .5rem; }
.skip:focus { left: .5rem; z-index: 10; }

:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
input[type=range]:focus-visible { outline-offset: 4px; }
/* the console is focused after sign-in only to move screen readers there; no ring around the page */
#console:focus { outline: none; }

.top { display: flex; align-items: center; gap: 1rem; padding: .7rem 1.2rem; background: #1c2430; color: #fff; }
.top h1 .sub { color: #b8c0cc; }
.conn { margin: 0 0 0 auto; font-size: .9rem; color: #d5dbe3; }
.conn::before { content: ""; display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin-right: .45rem; background: #8a94a3; vertical-align: 0; }
.conn[data-state=live]::before { background: #3ccf7e; }
.conn[data-state=lost]::before { background: #ff6b5a; }
.top button.quiet { color: #fff; border-color: #5b6676; background: transparent; }

main { max-width: 1280px; margin: 0 auto; padding: 1rem 1.2rem 2rem; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem; }
.wide { grid-column: 1 / -1; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.1rem; min-width: 0; }
.panel-head { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem; flex-wrap: wrap; margin-bottom: .6rem; }
.panel-head h2 { margin: 0; }
.login { max-width: 28rem; margin: 3rem auto; }
.login label { display: block; font-weight: 600; margin-bottom: .3rem; }
.login input { width: 100%; }
.hint { color: var(--muted); font-size: .88rem; margin: .35rem 0; }
.error { color: var(--bad); font-weight: 600; margin: .4rem 0; min-height: 1.2em; }

button { font: inherit; padding: .45rem .9rem; border-radius: 6px; border: 1px solid #aab2bd; background: #fff; color: var(--text); cursor: pointer; min-height: 2.3rem; }
button:hover:not(:disabled) { background: #eef1f5; }
button:disabled { opacity: .45; cursor: not-allowed; }
button.primary { background: var(--primary); border-color: var(--primary); color: #fff; }
button.primary:hover:not(:disabled) { background: #183f73; }
button.danger { color: var(--bad); border-color: #d9a29c; }
button.danger:hover:not(:disabled) { background: #fdf0ee; }
input[type=text], input[type=password] { font: inherit; padding: .45rem .6rem; border: 1px solid #aab2bd; border-radius: 6px; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .8rem; }

.result { margin: 0 0 1rem; padding: .6rem .9rem; border-radius: 6px; border: 1px solid transparent; }
.result[data-kind=none] { display: none; }
.result[data-kind=ok] { background: #eaf6ef; border-color: #b7dfc6; color: #14502f; }
.result[data-kind=error] { background: #fdf0ee; border-color: #f0bcb5; color: #8a1c12; font-weight: 600; }
.result[data-kind=busy] { background: #eef2f8; border-color: #c9d5e6; }

.key-x, .key-y { font-weight: 600; }
.key-x { color: var(--x); }
.key-y { color: var(--y); }
.legend { margin: 0; display: flex; gap: 1rem; font-size: .9rem; }
.legend span::before { content: ""; display: inline-block; width: 1rem; height: 3px; margin-right: .35rem; vertical-align: middle; background: currentColor; }

.lock { display: flex; align-items: center; justify-content: space-between; gap: .8rem; flex-wrap: wrap; background: #fdf0ee; border: 1px solid #f0bcb5; border-radius: 6px; padding: .5rem .8rem; margin-bottom: .8rem; }
.lock p { margin: 0; color: #8a1c12; }
.bar-labels { display: flex; justify-content: space-between; font-size: 1.05rem; margin-bottom: .25rem; }
.bar { display: flex; height: 1.6rem; border-radius: 5px; overflow: hidden; background: #e6e9ee; }
.bar-x { background: var(--x); }
.bar-y { background: var(--y); }
.steer { margin-top: 1rem; }
.steer label { font-weight: 600; }
.slider-row { display: flex; align-items: center; gap: .8rem; }
.slider-row input { flex: 1; min-width: 0; height: 2rem; accent-color: var(--y); }
.slider-row output { min-width: 3.5rem; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; font-size: 1.05rem; }

.steps { list-style: none; padding: 0; margin: .6rem 0 0; display: flex; flex-wrap: wrap; gap: .4rem; }
.steps li { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .6rem; font-size: .9rem; color: var(--muted); }
.steps li[data-at=done] { background: #f1f3f6; }
.steps li[data-at=current] { border-color: var(--y); color: var(--text); font-weight: 600; box-shadow: inset 0 -3px 0 var(--y); }

.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 1rem; }
.chart { margin: 0; min-width: 0; }
.chart figcaption { display: flex; justify-content: space-between; gap: .5rem; font-size: .9rem; font-weight: 600; margin-bottom: .3rem; }
.chart figcaption .now { font-weight: 400; color: var(--muted); font-variant-numeric: tabular-nums; }
.plot { position: relative; border-left: 1px solid var(--line); border-bottom: 1px solid var(--line); }
.plot svg { display: block; width: 100%; height: 130px; }
.plot .max { position: absolute; top: 0; left: .3rem; font-size: .75rem; color: var(--muted); background: rgba(255,255,255,.8); padding: 0 .2rem; }
.plot .grid-line { stroke: #edf0f3; stroke-width: 1; }
.plot .line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.plot .line-x { stroke: var(--x); }
.plot .line-y { stroke: var(--y); }
.axis { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); margin-top: .2rem; }

.pill { margin: 0; padding: .15rem .6rem; border-radius: 999px; font-size: .85rem; font-weight: 600; background: #eceff3; color: var(--muted); }
.pill[data-verdict=pass] { background: #e3f4ea; color: var(--ok); }
.pill[data-verdict=fail] { background: #fde4e1; color: var(--bad); }
table.figures { width: 100%; border-collapse: collapse; font-size: .9rem; font-variant-numeric: tabular-nums; }
.figures th, .figures td { text-align: left; padding: .35rem .5rem .35rem 0; border-bottom: 1px solid #eceff3; }
.figures th { color: var(--muted); font-weight: 600; }
.figures td.node { word-break: break-all; }
.health { font-weight: 600; }
.health[data-h=healthy] { color: var(--ok); }
.health[data-h=unhealthy], .health[data-h=ejected] { color: var(--bad); }
.health[data-h=unknown] { color: var(--warn); }
.checks { margin: .6rem 0 0; padding-left: 1.1rem; font-size: .88rem; color: var(--muted); }

.event-list { list-style: none; margin: 0; padding: 0; max-height: 22rem; overflow-y: auto; font-size: .9rem; }
.event-list li { display: grid; grid-template-columns: 5.5rem 9.5rem 1fr; gap: .6rem; padding: .35rem 0; border-bottom: 1px solid #eceff3; }
.event-list time { color: var(--muted); font-variant-numeric: tabular-nums; }
.event-list .type { font-weight: 600; }
.event-list li[data-tone=bad] .type { color: var(--bad); }
.event-list li[data-tone=good] .type { color: var(--ok); }
.event-list .what { color: var(--muted); word-break: break-word; }

dialog { border: 1px solid var(--line); border-radius: 10px; padding: 1.2rem 1.3rem; max-width: min(30rem, calc(100vw - 2rem)); box-shadow: 0 10px 40px rgba(20, 30, 45, .25); }
dialog::backdrop { background: rgba(20, 28, 40, .45); }
dialog h2 { font-size: 1.1rem; }
dialog .reason label { display: block; font-weight: 600; margin-bottom: .3rem; }
dialog .reason input { width: 100%; }
dialog .actions { justify-content: flex-end; }

@media (max-width: 600px) {
  main { padding: .7rem .6rem 1.5rem; }
  .grid { grid-template-columns: 1fr; }
  .top { flex-wrap: wrap; padding: .6rem .8rem; gap: .5rem; }
  .conn { margin-left: 0; order: 3; flex-basis: 100%; }
  .top button.quiet { margin-left: auto; }
  .event-list li { grid-template-columns: 4.8rem 1fr; }
  .event-list .what { grid-column: 1 / -1; }
  .actions button { flex: 1 1 auto; }
}
`
