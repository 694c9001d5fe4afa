# SPDX-License-Identifier: GPL-3.0-or-later
# B7, sourced by bench/run.sh (uses its MKEYS, WORK, PIDS, log, row, pct): B7_JOINS (default 200)
# sequential joins through two managers whose registry is a 3-member etcd on loopback, against
# the same joins through one manager on SQLite, in the same run. Row:
#   b7 N sqlite_s sqlite_p50_ms sqlite_p99_ms etcd_s etcd_p50_ms etcd_p99_ms fails why

# Free loopback TCP ports, one per line (away from 2379/2380, where Debian's etcd may listen).
b7_free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

# b7_joins DIR LABEL ADDRESS... : B7_JOINS joins, the i-th through ADDRESS[i % count]; prints
# "seconds p50_ms p99_ms fails".
b7_joins() {
  local d=$1 label=$2; shift 2
  local addrs=("$@") i t0 t1 j0 j1 lat="" fails=0
  for ((i = 0; i < B7_JOINS; i++)); do "$MKEYS" machine init "$d/$label-m$i" >/dev/null 2>&1; done
  t0=$(date +%s%N)
  for ((i = 0; i < B7_JOINS; i++)); do
    j0=$(date +%s%N)
    if "$MKEYS" array join "$d/$label-m$i" --manager "${addrs[i % ${#addrs[@]}]}" \
        --token-file "$d/$label.token" --yes --member-name "$label-m$i" --timeout 60 \
        >"$d/$label-j$i.out" 2>"$d/$label-j$i.err"; then
      j1=$(date +%s%N); lat+=" $(( (j1 - j0) / 1000 ))"
    else
      fails=$((fails + 1))
    fi
  done
  t1=$(date +%s%N)
  local p50 p99
  p50=$(pct 50 <<<"$lat")
  p99=$(pct 99 <<<"$lat")
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}') ${p50:-nan} ${p99:-nan} $fails"
}

# b7_serve ROOT DIR LABEL: starts `array serve` on ROOT (in this shell, so that PIDS keeps
# it); sets B7_ADDR to its address, or to "" if it did not start.
b7_serve() {
  local root=$1 d=$2 label=$3
  "$MKEYS" array serve "$root" --listen 127.0.0.1:0 --port-file "$d/$label.port" \
    >"$d/$label.serve.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do [ -s "$d/$label.port" ] && break; sleep 0.1; done
  B7_ADDR=""
  [ -s "$d/$label.port" ] && B7_ADDR="127.0.0.1:$(tr -dc 0-9 <"$d/$label.port")"
}

b7_token() {  # b7_token ROOT FILE
  "$MKEYS" --json array token "$1" --ttl 1h --uses $((B7_JOINS + 10)) 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' >"$2" 2>/dev/null &&
    chmod 600 "$2" && [ -s "$2" ]
}

run_b7() {
  local d=$WORK/b7 why="" first_pid=${#PIDS[@]}
  mkdir -p "$d"
  command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
    why="etcd/etcdctl not installed (scripts/install-deps.sh installs etcd-server)"
  [ -z "$why" ] && ! mkeys_sub_has array manager && why="mkeys array manager missing"
  if [ -n "$why" ]; then row b7 "$B7_JOINS" "" "" "" "" "" "" "" "$why"; return; fi

  log "B7: SQLite, one manager, $B7_JOINS joins"
  "$MKEYS" machine init "$d/sqlite-mgr" >/dev/null 2>&1
  "$MKEYS" array create "$d/sqlite-mgr" --name b7 >/dev/null 2>"$d/create.err" &&
    b7_token "$d/sqlite-mgr" "$d/sqlite.token" || {
    row b7 "$B7_JOINS" "" "" "" "" "" "" "" "SQLite array create failed: $(head -c 160 "$d/create.err")"; return; }
  b7_serve "$d/sqlite-mgr" "$d" sqlite
  local sq_addr=$B7_ADDR
  [ -n "$sq_addr" ] || { row b7 "$B7_JOINS" "" "" "" "" "" "" "" "array serve (SQLite) did not start"; return; }
  local sq; sq=$(b7_joins "$d" sqlite "$sq_addr")

  log "B7: a 3-member etcd on loopback, two managers, $B7_JOINS joins spread over both"
  local ports=() p
  while read -r p; do ports+=("$p"); done < <(b7_free_ports 6)
  local cluster="" endpoints="" i
  for i in 0 1 2; do
    cluster+="${cluster:+,}b7e$i=http://127.0.0.1:${ports[3 + i]}"
    endpoints+="${endpoints:+,}127.0.0.1:${ports[i]}"
  done
  for i in 0 1 2; do
    etcd --name "b7e$i" --data-dir "$d/etcd/b7e$i" \
      --listen-client-urls "http://127.0.0.1:${ports[i]}" \
      --advertise-client-urls "http://127.0.0.1:${ports[i]}" \
      --listen-peer-urls "http://127.0.0.1:${ports[3 + i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ports[3 + i]}" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token "mkeys-b7-$$" >"$d/etcd-$i.log" 2>&1 &
    PIDS+=("$!")
  done
  local healthy=0
  for _ in $(seq 120); do
    if etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1; then healthy=1; break; fi
    sleep 0.5
  done
  [ "$healthy" = 1 ] || { row b7 "$B7_JOINS" ${sq% *} "" "" "" "" "etcd did not become healthy"; return; }
  "$MKEYS" machine init "$d/etcd-a" >/dev/null 2>&1
  "$MKEYS" machine init "$d/etcd-b" >/dev/null 2>&1
  "$MKEYS" array create "$d/etcd-a" --name b7 --registry "etcd://$endpoints" >/dev/null 2>"$d/create-etcd.err" &&
    "$MKEYS" array manager add "$d/etcd-b" --from "$d/etcd-a" >/dev/null 2>>"$d/create-etcd.err" &&
    b7_token "$d/etcd-a" "$d/etcd.token" || {
    row b7 "$B7_JOINS" ${sq% *} "" "" "" "" "etcd array create/manager add failed: $(head -c 160 "$d/create-etcd.err")"; return; }
  local a_addr b_addr
  b7_serve "$d/etcd-a" "$d" etcd-a
  a_addr=$B7_ADDR
  b7_serve "$d/etcd-b" "$d" etcd-b
  b_addr=$B7_ADDR
  [ -n "$a_addr" ] && [ -n "$b_addr" ] ||
    { row b7 "$B7_JOINS" ${sq% *} "" "" "" "" "array serve (etcd) did not start"; return; }
  local et; et=$(b7_joins "$d" etcd "$a_addr" "$b_addr")
  local sq_fail=${sq##* } et_fail=${et##* } firstfail=""
  if [ "$((sq_fail + et_fail))" -gt 0 ]; then
    firstfail=$(cat "$d"/*-j*.err 2>/dev/null | grep -v '^$' | head -1 | head -c 160)
  fi
  row b7 "$B7_JOINS" ${sq% *} ${et% *} "$((sq_fail + et_fail))" "$firstfail"
  for p in "${PIDS[@]:$first_pid}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d"
}
