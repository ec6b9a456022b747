#!/bin/bash
# Same run, one core each, as /work/shared/perf-probes/compare.sh (nginx as a 90/10 proxy,
# cutover from this checkout, wrk and the nginx upstream on CPU 0, each proxy pinned to
# CPU 1), plus what a loaded machine cannot hide: each proxy's CPU time per request and
# its cpu% during the run, read from /proc. Needs nginx, wrk, taskset.
#   bench/engine-compare.sh            env: NODEBIN, DUR (s per run), ROUNDS, C (connections), EXTRA (yaml for cutover), CHECKOUT (another tree),
#                                      SIZE (bytes the upstream answers, from a file; unset: the 91-byte `return 200`), NODEFLAGS (e.g. --cpu-prof; after the flags of bin/cutover.js's first line)
#                                      POST (bytes: every request a POST of that size, e.g. POST=1048576 C=8; the upstream is then
#                                      bench/upstream.mjs, which reads the body whole before it answers, and nginx streams the body
#                                      to it as bench/rivals.mjs configures it: proxy_request_buffering off)
#                                      FLAGSB (node flags: a second cutover, B, on the same core with bin/cutover.js's flags then
#                                      FLAGSB, measured right after A in every round: an A/B of V8 flags that the machine's drift
#                                      between runs cannot swing; B's CPU per request ÷ A's is printed), CHECKOUTB (another tree,
#                                      built, as B: an A/B of two commits; with or without FLAGSB)
set -u
checkout=${CHECKOUT:-$(cd "$(dirname "$0")/.." && pwd)}
NODEBIN=${NODEBIN:-node}; DUR=${DUR:-5}; ROUNDS=${ROUNDS:-2}; C=${C:-100}
d=$(mktemp -d /tmp/ecmp.XXXX); mkdir -p $d/tmp $d/logs; pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM $p 2>/dev/null; done; sleep 0.5; rm -rf $d; }; trap cleanup EXIT
port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
UA=$(port); UB=$(port); NP=$(port); CP=$(port); CC=$(port); BP=$(port); BC=$(port)
upload=""; wrkpost=""
if [ -n "${POST:-}" ]; then
  # nginx's `return 200` may answer before the body is read; bench/upstream.mjs answers at its end
  coproc UPSTREAM { exec taskset -c 0 node "$checkout/bench/upstream.mjs" --ports 2; }
  pids+=($UPSTREAM_PID); read -r ports <&"${UPSTREAM[0]}"
  read -r UA UB <<<"$(echo "$ports" | tr -dc '0-9,' | tr ',' ' ')"
  upload="client_max_body_size 0; proxy_request_buffering off;"
  printf 'wrk.method = "POST"\nwrk.body = string.rep("x", %d)\nwrk.headers["Content-Type"] = "application/octet-stream"\n' "$POST" > $d/post.lua
  wrkpost="-s $d/post.lua"
fi
body=$(printf 'x%.0s' $(seq 1 90))
common="worker_processes 1; daemon off; error_log $d/logs/err.log warn; events { worker_connections 4096; }"
temps="client_body_temp_path $d/tmp/cb; proxy_temp_path $d/tmp/px; fastcgi_temp_path $d/tmp/fc; uwsgi_temp_path $d/tmp/uw; scgi_temp_path $d/tmp/sc; access_log off; keepalive_requests 10000000; keepalive_timeout 65;"
answer="default_type text/plain; return 200 \"$body\n\";"
if [ -n "${SIZE:-}" ]; then mkdir -p $d/www; chmod 755 $d $d/www; head -c $SIZE /dev/zero | tr '\0' b > $d/www/body; chmod 644 $d/www/body; answer="default_type application/octet-stream; root $d/www; try_files /body =404;"; fi
echo "$common pid $d/up.pid; http { $temps server { listen 127.0.0.1:$UA; listen 127.0.0.1:$UB; location / { $answer } } }" > $d/up.conf
# nginx keeps up to 128 idle connections to its upstream: at 64 a 100-connection run made it reopen one in ten (bench/rivals.mjs)
echo "$common pid $d/px.pid; http { $temps upstream be { server 127.0.0.1:$UA weight=9; server 127.0.0.1:$UB weight=1; keepalive 128; keepalive_requests 10000000; } server { listen 127.0.0.1:$NP; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; $upload } } }" > $d/px.conf
cat > $d/cutover.yaml <<C
proxy: { listen: 127.0.0.1:$CP, workers: 1 }
control: { listen: 127.0.0.1:$CC, token: perf-token-123 }
state: { path: $d/state.json }
pools: { x: { nodes: [http://127.0.0.1:$UA] }, y: { nodes: [http://127.0.0.1:$UB] } }
split: { y: 10 }
${EXTRA:-}
C
[ -z "${POST:-}" ] && { taskset -c 0 nginx -c $d/up.conf -p $d >/dev/null 2>&1 & pids+=($!); }
taskset -c 1 nginx -c $d/px.conf -p $d >/dev/null 2>&1 & npid=$!; pids+=($npid)
# node's flags from bin/cutover.js's `#!/usr/bin/env -S node FLAGS` line (as `npx cutover` runs), then NODEFLAGS
binflags=$(sed -n '1s/^#!.*env \(-S \)\{0,1\}node//p' $checkout/bin/cutover.js)
start_cutover() { # name extra-flags tree: tree's bin/cutover.js on core 1 with $d/name.yaml, logging to $d/logs/name.out
  (cd $3 && exec taskset -c 1 $NODEBIN $binflags $2 bin/cutover.js --config $d/$1.yaml >$d/logs/$1.out 2>&1) &
}
start_cutover cutover "${NODEFLAGS:-}" $checkout; cpid=$!; pids+=($cpid)
bport=''; blabel=''
if [ -n "${FLAGSB:-}${CHECKOUTB:-}" ]; then
  [ -z "${CHECKOUTB:-}" ] || [ -f "$CHECKOUTB/dist/cli.js" ] || { echo "CHECKOUTB=$CHECKOUTB: no dist/cli.js there (build it first)" >&2; exit 2; }
  sed -e "s/:$CP,/:$BP,/" -e "s/:$CC,/:$BC,/" -e "s#state.json#state-b.json#" $d/cutover.yaml > $d/cutover-b.yaml
  start_cutover cutover-b "${FLAGSB:-}" "${CHECKOUTB:-$checkout}"; bpid=$!; pids+=($bpid)
  bport=$BP; blabel="${CHECKOUTB:+$CHECKOUTB}${CHECKOUTB:+${FLAGSB:+ }}${FLAGSB:-}"
fi
for p in $CP $bport; do for i in $(seq 1 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/)" = 200 ] && break; sleep 0.2; done; done
for u in $NP $CP $bport; do curl -s -o /dev/null -w "%{http_code} " http://127.0.0.1:$u/; done; echo
HZ=$(getconf CLK_TCK)
# CPU ticks (user + system) of a process and its children threads
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
run() { # url pid -> "rps cpu% us/req"
  local t0=$(ticks $2) s0=$(date +%s.%N)
  local r=$(taskset -c 0 wrk -t1 -c$C -d${DUR}s $wrkpost "$1" 2>&1 | awk '/Requests\/sec/{r=$2} /Non-2xx/{e=$NF} END{if(e>0) print "ERR" e; else print r}')
  local t1=$(ticks $2) s1=$(date +%s.%N)
  awk -v r=$r -v t=$((t1 - t0)) -v hz=$HZ -v s="$(echo "$s1 - $s0" | bc)" 'BEGIN{cpu=t/hz; printf "%s %.0f %.1f", r, 100*cpu/s, 1e6*cpu/(r*s)}'
}
# nginx's work is done by its worker; cutover with workers: 1 serves in its own process
nginx_worker=$(pgrep -P $npid | head -1)
cutover_pid=$cpid
for u in $NP $CP $bport; do taskset -c 0 wrk -t1 -c$C -d2s $wrkpost http://127.0.0.1:$u/ >/dev/null 2>&1; done
echo "node $($NODEBIN --version), wrk -t1 -c$C${POST:+, POST of $POST bytes}, ${DUR}s per run: req/s, cpu% of the proxy, CPU µs per request"
for r in $(seq 1 $ROUNDS); do
  read -r an ac au <<<"$(run http://127.0.0.1:$NP/ $nginx_worker)"
  read -r bn bc bu <<<"$(run http://127.0.0.1:$CP/ $cutover_pid)"
  echo "round $r: nginx $an req/s ${ac}% ${au}us/req | cutover $bn req/s ${bc}% ${bu}us/req | ratio req/s $(awk -v x=$bn -v n=$an 'BEGIN{printf "%.2f",x/n}') CPU/req $(awk -v x=$bu -v n=$au 'BEGIN{printf "%.2f",x/n}')"
  if [ -n "$bport" ]; then
    read -r xn xc xu <<<"$(run http://127.0.0.1:$BP/ $bpid)"
    echo "         B ($blabel): $xn req/s ${xc}% ${xu}us/req | B ÷ cutover CPU/req $(awk -v x=$xu -v n=$bu 'BEGIN{printf "%.3f",x/n}')"
  fi
done
