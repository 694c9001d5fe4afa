#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `make bench`: builds the benchmarks in build/bench, runs B1–B6 and prints one table with each
# figure and its ratio to the peers measured in the same run on the same tree (medians of
# BENCH_RUNS runs). See docs/benchmarks.md.
#
#   bench/run.sh [--full] [--only B1,B2,B3,B4,B5,B6,B7] [--runs R]
#
# Environment: BENCH_N (containers for B1/B2, default 100000; --full: 1000000), BENCH_RUNS
# (default 3), BENCH_NTFS_N (B5, default 20000; --full: 100000), BENCH_IMAGE_N (B6, default
# 100000), BENCH_SHELL_N (files the
# setfattr shell loop of B2 runs over, default 2000), BENCH_SEQ_JOINS (200), BENCH_CONC_JOINS
# (50), BENCH_ARRAY_JOINS (B7, 200), BENCH_TREES (where trees go, default build/bench/trees), BENCH_KEEP=1 keeps the trees.
set -uo pipefail

cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=$SRC/build/bench

FULL=0
ONLY="B1,B2,B3,B4,B5,B6,B7"
RUNS=${BENCH_RUNS:-3}
while [ $# -gt 0 ]; do
  case "$1" in
    --full) FULL=1 ;;
    --only) ONLY=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$FULL" = 1 ]; then
  N=${BENCH_N:-1000000}
  NTFS_N=${BENCH_NTFS_N:-100000}
else
  N=${BENCH_N:-100000}
  NTFS_N=${BENCH_NTFS_N:-20000}
fi
SHELL_N=${BENCH_SHELL_N:-2000}
IMAGE_N=${BENCH_IMAGE_N:-100000}
SEQ_JOINS=${BENCH_SEQ_JOINS:-200}
CONC_JOINS=${BENCH_CONC_JOINS:-50}
B7_JOINS=${BENCH_ARRAY_JOINS:-200}
TREES=${BENCH_TREES:-$BUILD/trees}
WORK=$TREES/run.$$
RESULTS=$WORK/results.tsv   # kind<TAB>fields... read by the table printer at the end
T_START=$(date +%s)

want() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { printf '[bench %4ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
row() { local IFS=$'\t'; printf '%s\n' "$*" >>"$RESULTS"; }

# ---- cleanup: only what this run started or created -------------------------------------
PIDS=()
MOUNTS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    for m in "${MOUNTS[@]}"; do
      [ -n "$m" ] && { umount "$m" 2>/dev/null || fusermount -u "$m" 2>/dev/null; }
    done
    rm -rf "$WORK"
  else
    echo "bench/run.sh: kept $WORK (mounted: ${MOUNTS[*]:-none})" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK"
: >"$RESULTS"

# ---- build ----------------------------------------------------------------------------
log "building in build/bench"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake --preset bench >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log" >&2; exit 3; }
fi
JOBS=${JOBS:-$(nproc)}
if ! cmake --build "$BUILD" -j "$JOBS" --target floor_getxattr floor_setxattr gen_machine bench_acl \
    >"$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log" >&2
  echo "bench/run.sh: the benchmark programs do not build" >&2
  exit 3
fi
B=$BUILD/bench
MKEYS=$BUILD/mkeys
MKEYS_STATE="ok"
if ! cmake --build "$BUILD" -j "$JOBS" --target mkeys >"$WORK/build-mkeys.log" 2>&1; then
  MKEYS_STATE="mkeys does not build"
  log "mkeys does not build (rows that need it are reported as not available)"
fi
HELP=""
if [ "$MKEYS_STATE" = ok ]; then HELP=$("$MKEYS" --help 2>&1); fi
# Why a command is unavailable, or "" when it is there.
missing() {
  if [ "$MKEYS_STATE" != ok ]; then echo "$MKEYS_STATE"; return; fi
  if ! grep -qE "^[[:space:]]+$1([[:space:]]|$)" <<<"$HELP"; then echo "mkeys $1 missing"; fi
}
mkeys_sub_has() {  # mkeys_sub_has GROUP SUB: GROUP --help lists SUB
  "$MKEYS" "$1" --help 2>&1 | grep -qE "^[[:space:]]+$2([[:space:]]|$)"
}

# ---- measuring ------------------------------------------------------------------------
# measure OUTVAR CMD...: runs CMD, stdout to /dev/null, sets OUTVAR to "seconds rss_kb exit" and
# M_CPU to its user + system CPU seconds (this machine's neighbours make wall time noisy).
measure() {
  local __out=$1; shift
  local tf=$WORK/time.$$ t0 t1 rc
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$WORK/last.stderr"
  rc=$?
  t1=$(date +%s%N)
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
  M_CPU=$(awk -F': ' '/User time|System time/ {c += $2} END {printf "%.3f", c}' "$tf")
  printf -v "$__out" '%s %s %s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')" \
    "${rss:-0}" "$rc"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if(NR==0){print "nan"}else if(NR%2){print a[(NR+1)/2]}else{printf "%.4f\n",(a[NR/2]+a[NR/2+1])/2}}'; }
# pct P: the P-th percentile, in ms, of the microsecond latencies on stdin ("" when none).
pct() { tr ' ' '\n' | grep -v '^$' | sort -n | awk -v p="$1" '{a[NR]=$1} END{if(NR==0){print ""; exit} i=int((NR*p+99)/100); if(i<1)i=1; if(i>NR)i=NR; printf "%.1f", a[i]/1000}'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

# ---- the model machine of B1 and B2 ----------------------------------------------------
# The tree lives on its own ext4 file system in a sparse image, loop-mounted: removing a
# million files one unlink at a time costs minutes (longer where the host file system discards
# synchronously), unmounting and deleting one image costs a second. ext4 defaults otherwise.
ROOT=""
make_tree() {
  [ -n "$ROOT" ] && return 0
  local img=$WORK/ext4.img mnt=$WORK/ext4
  mkdir -p "$mnt"
  truncate -s $(( N * 8 / 1024 + 1024 ))M "$img"
  if ! mkfs.ext4 -q -F -N $(( N + 10000 )) -E nodiscard "$img" >"$WORK/mkfs.log" 2>&1 ||
     ! mount -o loop "$img" "$mnt" >>"$WORK/mkfs.log" 2>&1; then
    log "cannot loop-mount an ext4 image ($(head -c 200 "$WORK/mkfs.log")); generating on $(df --output=fstype "$WORK" | tail -1) directly"
    rm -f "$img"
    ROOT=$WORK/machine
  else
    MOUNTS+=("$mnt")
    ROOT=$mnt/machine
  fi
  log "generating a model machine with $N containers"
  "$B/gen_machine" "$ROOT" --n "$N" --value-file "$WORK/clean.bin" --open-value-file "$WORK/open.bin" \
    >"$WORK/gen.out" 2>&1 || { cat "$WORK/gen.out" >&2; ROOT=""; return 1; }
  log "$(cat "$WORK/gen.out")"
  row gen "B1/B2" "$(cat "$WORK/gen.out")"
  MK=$ROOT/ProgramData/Microsoft/Crypto/RSA/MachineKeys
  # Warm the cache: every file's attribute and contents once.
  "$B/floor_getxattr" "$MK" user.NTACL >/dev/null
  find "$MK" -type f -print0 | xargs -0 cat >/dev/null 2>&1
  return 0
}

# ---- B1 audit ---------------------------------------------------------------------------
run_b1() {
  local why; why=$(missing audit)
  make_tree || { row skip B1 "generator failed"; return; }
  local root=$ROOT mk=$MK
  if [ -z "$why" ]; then "$MKEYS" audit "$root" --format json >/dev/null 2>&1; fi
  local floor="" gf="" au="" au_rss="" gf_rss="" fl_rss="" au_rc="" m r c_fl="" c_gf="" c_au=""
  for ((r = 0; r < RUNS; r++)); do
    log "B1 run $((r + 1))/$RUNS"
    measure m "$B/floor_getxattr" "$mk" user.NTACL; floor+=" ${m%% *}"; m=${m#* }; fl_rss+=" ${m%% *}"; c_fl+=" $M_CPU"
    measure m getfattr -R -n user.NTACL -e hex "$mk"; gf+=" ${m%% *}"; m=${m#* }; gf_rss+=" ${m%% *}"; c_gf+=" $M_CPU"
    if [ -z "$why" ]; then
      measure m "$MKEYS" audit "$root" --format json
      au+=" ${m%% *}"; m=${m#* }; au_rss+=" ${m%% *}"; au_rc=${m#* }; c_au+=" $M_CPU"
      if [ "$au_rc" -gt 1 ]; then why="mkeys audit failed (exit $au_rc): $(head -c 200 "$WORK/last.stderr")"; fi
    fi
  done
  row b1 "$N" "$(median <<<"$floor")" "$(median <<<"$gf")" "$(median <<<"$au")" \
    "$(maxof <<<"$au_rss")" "$(maxof <<<"$gf_rss")" "$(maxof <<<"$fl_rss")" "${why:-}" \
    "$(median <<<"$c_fl")" "$(median <<<"$c_gf")" "$(median <<<"$c_au")"
}

# ---- B2 repair ----------------------------------------------------------------------------
run_b2() {
  local why; why=$(missing repair)
  make_tree || { row skip B2 "generator failed"; return; }
  # Every file gets the Everyone-read descriptor (rule MK012), so a repair changes all N.
  log "B2: giving all $N key files an Everyone read ACE"
  local root=$ROOT mk=$MK
  local clean_len; clean_len=$(stat -c %s "$WORK/clean.bin")
  local floor="" rep="" rep_rss="" m r verified=yes c_fl="" c_rep=""
  for ((r = 0; r < RUNS; r++)); do
    log "B2 run $((r + 1))/$RUNS"
    if [ -z "$why" ]; then
      "$B/floor_setxattr" "$mk" user.NTACL "$WORK/open.bin" >/dev/null
      rm -f "$WORK/b2.journal"
      measure m "$MKEYS" repair "$root" --apply --journal "$WORK/b2.journal"
      local rc=${m##* }
      if [ "$rc" -gt 1 ]; then  # 1: findings no repair can fix (corrupt files) remain
        why="mkeys repair failed (exit $rc): $(head -c 300 "$WORK/last.stderr")"
      else
        rep+=" ${m%% *}"; m=${m#* }; rep_rss+=" ${m%% *}"; c_rep+=" $M_CPU"
        # Every file must now hold the clean descriptor (N x its length).
        local bytes; bytes=$("$B/floor_getxattr" "$mk" user.NTACL | awk '{print $3}')
        if [ "$bytes" != "$((N * clean_len))" ]; then verified="no ($bytes attribute bytes, expected $((N * clean_len)))"; fi
      fi
    fi
    "$B/floor_setxattr" "$mk" user.NTACL "$WORK/open.bin" >/dev/null
    measure m "$B/floor_setxattr" "$mk" user.NTACL "$WORK/clean.bin"; floor+=" ${m%% *}"; c_fl+=" $M_CPU"
  done
  # The shell loop: one setfattr process per file, over a sample, extrapolated to N.
  local sample=$SHELL_N
  [ "$sample" -gt "$N" ] && sample=$N
  local hex; hex=$(xxd -p "$WORK/clean.bin" | tr -d '\n')
  (cd "$mk" && ls -U | head -n "$sample") >"$WORK/b2.sample"
  log "B2: setfattr shell loop over $sample files"
  local shell=""
  for ((r = 0; r < RUNS; r++)); do
    measure m bash -c 'cd "$1" && while IFS= read -r f; do setfattr -n user.NTACL -v "0x$2" "$f"; done <"$3"' \
      _ "$mk" "$hex" "$WORK/b2.sample"
    shell+=" ${m%% *}"
  done
  row b2 "$N" "$(median <<<"$floor")" "$(median <<<"$rep")" "$(maxof <<<"$rep_rss")" \
    "$sample" "$(median <<<"$shell")" "$verified" "${why:-}" "$(median <<<"$c_fl")" "$(median <<<"$c_rep")"
  rm -f "$WORK/b2.journal"
}

# ---- B3 library -----------------------------------------------------------------------------
run_b3() {
  log "B3: acl library over the Windows SDDL corpus ($RUNS repetitions)"
  if ! "$B/bench_acl" --benchmark_repetitions="$RUNS" --benchmark_report_aggregates_only=true \
      --benchmark_min_time=0.3 --benchmark_format=json --benchmark_out="$WORK/b3.json" \
      --benchmark_out_format=json >/dev/null 2>"$WORK/b3.err"; then
    row skip B3 "bench_acl failed: $(head -c 200 "$WORK/b3.err")"
    return
  fi
  python3 - "$WORK/b3.json" >>"$RESULTS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    name = b["run_name"]
    unit = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
    print(f"b3\t{name}\t{b['cpu_time'] * unit:.0f}\t{b['real_time'] * unit:.0f}")
EOF
  local cases; cases=$(grep -o '[0-9]* corpus cases' "$WORK/b3.err" | head -1)
  row note B3 "${cases:-corpus} ; per operation, CPU time, median of $RUNS"
}

# ---- B4 joins ---------------------------------------------------------------------------------
run_b4() {
  local why; why=$(missing array)
  if [ -z "$why" ]; then
    for s in create token serve join; do mkeys_sub_has array "$s" || { why="mkeys array $s missing"; break; }; done
  fi
  # The peer first: raw TLS 1.3 handshakes of the same OpenSSL, EC P-256 like the array's CA.
  log "B4: openssl s_server / s_time TLS 1.3 handshake rate"
  local d=$WORK/b4
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
    -keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
  local port=$((20000 + RANDOM % 20000))
  openssl s_server -tls1_3 -quiet -accept "127.0.0.1:$port" -cert "$d/cert.pem" -key "$d/key.pem" \
    -www >/dev/null 2>&1 &
  local spid=$!
  PIDS+=("$spid")
  sleep 0.5
  local hs="" r out t0 t1 conns
  for ((r = 0; r < RUNS; r++)); do
    # s_time prints "N connections in T real seconds" with T rounded to whole seconds: time it here.
    t0=$(date +%s%N)
    out=$(openssl s_time -connect "127.0.0.1:$port" -new -time 4 2>&1 </dev/null)
    t1=$(date +%s%N)
    conns=$(grep -o '^[0-9]* connections in .* real seconds' <<<"$out" | awk '{print $1}' | tail -1)
    [ -n "$conns" ] && hs+=" $(awk -v n="$conns" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/((b-a)/1e9)}')"
  done
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
  local hs_rate; hs_rate=$(median <<<"$hs")
  if [ -n "$why" ]; then
    row b4 "$SEQ_JOINS" "$CONC_JOINS" "$hs_rate" "" "" "" "" "" "" "$why"
    return
  fi
  log "B4: manager and $((SEQ_JOINS + CONC_JOINS)) member roots"
  local mgr=$d/manager
  "$MKEYS" machine init "$mgr" >/dev/null 2>&1 && "$MKEYS" array create "$mgr" --name bench >/dev/null 2>"$d/create.err" || {
    row b4 "$SEQ_JOINS" "$CONC_JOINS" "$hs_rate" "" "" "" "" "" "" "array create failed: $(head -c 200 "$d/create.err")"; return; }
  "$MKEYS" --json array token "$mgr" --ttl 1h --uses $((SEQ_JOINS + CONC_JOINS + 10)) >"$d/token.json" 2>"$d/token.err"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$d/token.json" >"$d/token" 2>/dev/null || {
    row b4 "$SEQ_JOINS" "$CONC_JOINS" "$hs_rate" "" "" "" "" "" "" "array token failed: $(head -c 200 "$d/token.err")"; return; }
  chmod 600 "$d/token"
  "$MKEYS" array serve "$mgr" --listen 127.0.0.1:0 --port-file "$d/port" >"$d/serve.log" 2>&1 &
  local mpid=$!
  PIDS+=("$mpid")
  for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
  if [ ! -s "$d/port" ]; then
    row b4 "$SEQ_JOINS" "$CONC_JOINS" "$hs_rate" "" "" "" "" "" "" "array serve did not start: $(head -c 200 "$d/serve.log")"; return
  fi
  local mport; mport=$(tr -dc 0-9 <"$d/port")
  local i
  for ((i = 0; i < SEQ_JOINS + CONC_JOINS; i++)); do "$MKEYS" machine init "$d/m$i" >/dev/null 2>&1; done
  # One join: prints its latency in ms, or FAIL.
  join_one() {
    local t0 t1
    t0=$(date +%s%N)
    if "$MKEYS" array join "$d/m$1" --manager "127.0.0.1:$mport" --token-file "$d/token" --yes \
        --member-name "m$1" --timeout 60 >"$d/j$1.out" 2>"$d/j$1.err"; then
      t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))
    else
      echo FAIL
    fi
  }
  log "B4: $SEQ_JOINS sequential joins"
  local t0 t1 seq_lat="" conc_lat="" fails=0 x
  t0=$(date +%s%N)
  for ((i = 0; i < SEQ_JOINS; i++)); do
    x=$(join_one "$i"); if [ "$x" = FAIL ]; then fails=$((fails + 1)); else seq_lat+=" $x"; fi
  done
  t1=$(date +%s%N)
  local seq_secs; seq_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  log "B4: $CONC_JOINS concurrent joins"
  t0=$(date +%s%N)
  for ((i = SEQ_JOINS; i < SEQ_JOINS + CONC_JOINS; i++)); do join_one "$i" >"$d/lat$i" & done
  wait $(jobs -p | grep -vx "$mpid") 2>/dev/null
  t1=$(date +%s%N)
  local conc_secs; conc_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  for ((i = SEQ_JOINS; i < SEQ_JOINS + CONC_JOINS; i++)); do
    x=$(cat "$d/lat$i"); if [ "$x" = FAIL ] || [ -z "$x" ]; then fails=$((fails + 1)); else conc_lat+=" $x"; fi
  done
  local firstfail="" mgr_state=""
  if ! kill -0 "$mpid" 2>/dev/null; then
    wait "$mpid" 2>/dev/null
    mgr_state="the manager (mkeys array serve) died, exit $?: $(grep -v '^mkeys serve:' "$d/serve.log" | head -1 | head -c 120)"
  fi
  kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
  if [ "$fails" -gt 0 ]; then
    firstfail=$(cat "$d"/j*.err 2>/dev/null | grep -v '^$' | head -1 | head -c 160)
    [ -n "$mgr_state" ] && firstfail="$mgr_state; first failure: $firstfail"
  fi
  row b4 "$SEQ_JOINS" "$CONC_JOINS" "$hs_rate" "$seq_secs" "$(pct 50 <<<"$seq_lat")" "$(pct 99 <<<"$seq_lat")" \
    "$conc_secs" "$(pct 50 <<<"$conc_lat")" "$(pct 99 <<<"$conc_lat")" "" "$fails" "$firstfail" \
    "$(wc -w <<<"$seq_lat")" "$(wc -w <<<"$conc_lat")"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d"
}

# ---- B5 ntfs-3g ----------------------------------------------------------------------------------
run_b5() {
  local why; why=$(missing audit)
  local d=$WORK/b5 guid=5c0a7e91-3b2d-4f6e-9a18-d4c2b7e6f053
  mkdir -p "$d/mnt"
  local size=$(( (NTFS_N * 12 / 1024) + 512 ))  # MiB: ~12 KiB per container with MFT and index
  truncate -s "${size}M" "$d/img"
  if ! mkntfs -F -Q "$d/img" >"$d/mkntfs.log" 2>&1 || ! ntfs-3g "$d/img" "$d/mnt" -o permissions >"$d/mount.log" 2>&1; then
    row skip B5 "cannot make or mount an ntfs-3g volume: $(head -c 200 "$d/mount.log")"
    return
  fi
  MOUNTS+=("$d/mnt")
  log "B5: generating $NTFS_N containers on ntfs-3g"
  "$B/gen_machine" "$d/mnt" --ntfs --machine-guid "$guid" --n "$NTFS_N" >"$WORK/b5.gen" 2>&1 || {
    row skip B5 "generator failed on ntfs-3g: $(head -c 200 "$WORK/b5.gen")"; return; }
  log "$(cat "$WORK/b5.gen")"
  row gen B5 "$(cat "$WORK/b5.gen")"
  local mk=$d/mnt/ProgramData/Microsoft/Crypto/RSA/MachineKeys
  "$B/floor_getxattr" "$mk" system.ntfs_acl >/dev/null
  if [ -z "$why" ]; then "$MKEYS" audit "$d/mnt" --machine-guid "$guid" --format json >/dev/null 2>&1; fi
  local gf="" au="" fl="" au_rss="" m r c_gf="" c_au=""
  for ((r = 0; r < RUNS; r++)); do
    log "B5 run $((r + 1))/$RUNS"
    measure m getfattr -R -n system.ntfs_acl -e hex "$mk"; gf+=" ${m%% *}"; c_gf+=" $M_CPU"
    measure m "$B/floor_getxattr" "$mk" system.ntfs_acl; fl+=" ${m%% *}"
    if [ -z "$why" ]; then
      measure m "$MKEYS" audit "$d/mnt" --machine-guid "$guid" --format json
      local rc=${m##* }
      if [ "$rc" -gt 1 ]; then why="mkeys audit failed on ntfs-3g (exit $rc): $(head -c 200 "$WORK/last.stderr")"; fi
      au+=" ${m%% *}"; m=${m#* }; au_rss+=" ${m%% *}"; c_au+=" $M_CPU"
    fi
  done
  row b5 "$NTFS_N" "$(median <<<"$gf")" "$(median <<<"$au")" "$(maxof <<<"$au_rss")" "$(median <<<"$fl")" "${why:-}" \
    "$(median <<<"$c_gf")" "$(median <<<"$c_au")"
  umount "$d/mnt" 2>/dev/null || fusermount -u "$d/mnt"
  MOUNTS=("${MOUNTS[@]/"$d/mnt"}")
  rm -rf "$d"
}

# ---- B6 disk image without a mount ------------------------------------------------------------
# One NTFS volume with IMAGE_N containers (filled through an ntfs-3g mount); then, same run:
# mkeys audit on the image file (no mount) vs mount + mkeys audit vs mount + getfattr -R.
run_b6() {
  local why; why=$(missing audit)
  local d=$WORK/b6 guid=5c0a7e91-3b2d-4f6e-9a18-d4c2b7e6f053
  mkdir -p "$d/mnt"
  local size=$(( (IMAGE_N * 12 / 1024) + 512 ))
  truncate -s "${size}M" "$d/img"
  if ! mkntfs -F -Q "$d/img" >"$d/mkntfs.log" 2>&1 || ! ntfs-3g "$d/img" "$d/mnt" -o permissions >"$d/mount.log" 2>&1; then
    row skip B6 "cannot make or mount an ntfs-3g volume: $(head -c 200 "$d/mount.log")"
    return
  fi
  MOUNTS+=("$d/mnt")
  log "B6: generating $IMAGE_N containers on ntfs-3g"
  "$B/gen_machine" "$d/mnt" --ntfs --machine-guid "$guid" --n "$IMAGE_N" >"$WORK/b6.gen" 2>&1 || {
    row skip B6 "generator failed on ntfs-3g: $(head -c 200 "$WORK/b6.gen")"; return; }
  row gen B6 "$(cat "$WORK/b6.gen")"
  local mk=$d/mnt/ProgramData/Microsoft/Crypto/RSA/MachineKeys
  local gf="" au="" im="" im_rss="" m r
  for ((r = 0; r < RUNS; r++)); do
    log "B6 run $((r + 1))/$RUNS"
    # The mount's cost is part of the peers' figures: mount, work, unmount.
    umount "$d/mnt" 2>/dev/null || fusermount -u "$d/mnt"
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
    measure m sh -c "ntfs-3g '$d/img' '$d/mnt' -o permissions && getfattr -R -n system.ntfs_acl -e hex '$mk' >/dev/null; rc=\$?; umount '$d/mnt'; exit \$rc"
    gf+=" ${m%% *}"
    if [ -z "$why" ]; then
      sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
      measure m sh -c "ntfs-3g '$d/img' '$d/mnt' -o permissions && '$MKEYS' audit '$d/mnt' --machine-guid $guid --format json; rc=\$?; umount '$d/mnt'; exit \$rc"
      au+=" ${m%% *}"
      sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
      measure m "$MKEYS" audit "$d/img" --machine-guid "$guid" --format json
      local rc=${m##* }
      if [ "$rc" -gt 1 ]; then why="mkeys audit failed on the image (exit $rc): $(head -c 200 "$WORK/last.stderr")"; fi
      im+=" ${m%% *}"; m=${m#* }; im_rss+=" ${m%% *}"
    fi
    ntfs-3g "$d/img" "$d/mnt" -o permissions
  done
  row b6 "$IMAGE_N" "$(median <<<"$gf")" "$(median <<<"$au")" "$(median <<<"$im")" "$(maxof <<<"$im_rss")" "${why:-}"
  umount "$d/mnt" 2>/dev/null || fusermount -u "$d/mnt"
  MOUNTS=("${MOUNTS[@]/"$d/mnt"}")
  rm -rf "$d"
}

want B1 && run_b1
want B2 && run_b2
want B3 && run_b3
want B4 && run_b4
want B5 && run_b5
want B6 && run_b6
# shellcheck source=bench/b7_arrays.sh
source "$SRC/bench/b7_arrays.sh"
want B7 && run_b7

# ---- the table ---------------------------------------------------------------------------
TOTAL=$(( $(date +%s) - T_START ))
cp "$RESULTS" "$BUILD/last-results.tsv"
python3 - "$RESULTS" "$RUNS" "$TOTAL" "$(nproc)" "$(uname -r)" <<'EOF' | tee "$BUILD/last-table.md"
import sys
path, runs, total, cores, kernel = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]

def f(x):
    try:
        v = float(x)
        return v if v == v else None
    except (TypeError, ValueError):
        return None

def rate(n, s):
    return f"{n / s:,.0f} files/s ({s:.2f} s)" if s else "—"

def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "—"

def cpu(c):
    return f", CPU {c:.2f} s" if c is not None else ""

def cratio(a, b):
    return f" (CPU {a / b:.2f}×)" if a and b else ""

def holds(ok):
    return "yes" if ok else "NO"

out = []
notes = []
def add(b, case, mine, peer, r, goal, held):
    out.append((b, case, mine, peer, r, goal, held))

for r in rows:
    kind = r[0]
    if kind == "gen":
        notes.append(f"{r[1]} tree: {r[2]}")
    elif kind == "note":
        notes.append(f"{r[1]}: {r[2]}")
    elif kind == "skip":
        add(r[1], "—", f"not available: {r[2]}", "", "", "", "—")
    elif kind == "b1":
        n = int(r[1]); floor, gf, au = f(r[2]), f(r[3]), f(r[4])
        au_rss, gf_rss, fl_rss = f(r[5]), f(r[6]), f(r[7])
        why = r[8] if len(r) > 8 else ""
        c_fl, c_gf, c_au = (f(x) for x in (r[9:12] + ["", "", ""])[:3])
        peer_gf = f"getfattr -R: {rate(n, gf)}{cpu(c_gf)}, RSS {gf_rss / 1024:.0f} MiB" if gf else "—"
        peer_fl = f"floor_getxattr: {rate(n, floor)}{cpu(c_fl)}" if floor else "—"
        if why:
            mine = f"not available yet ({why})"
            add("B1", f"audit, {n:,} containers, warm", mine, peer_gf, "", "≤ 1.0× getfattr", "—")
            add("B1", "", "", peer_fl, "", "≤ 1.3× floor", "—")
        else:
            mine = f"mkeys audit: {rate(n, au)}{cpu(c_au)}"
            add("B1", f"audit, {n:,} containers, warm", mine, peer_gf, ratio(au, gf) + " time" + cratio(c_au, c_gf), "≤ 1.0× getfattr", holds(au <= gf))
            add("B1", "", "", peer_fl, ratio(au, floor) + " time" + cratio(c_au, c_fl), "≤ 1.3× floor", holds(au <= 1.3 * floor))
            add("B1", "", f"peak RSS {au_rss / 1024:.0f} MiB", "", "", "< 256 MiB", holds(au_rss < 256 * 1024))
    elif kind == "b2":
        n = int(r[1]); floor, rep, rep_rss = f(r[2]), f(r[3]), f(r[4])
        sample, shell, verified = int(r[5]), f(r[6]), r[7]
        why = r[8] if len(r) > 8 else ""
        c_fl, c_rep = (f(x) for x in (r[9:11] + ["", ""])[:2])
        shell_n = shell / sample * n if shell and sample else None
        peer_fl = f"floor_setxattr: {rate(n, floor)}{cpu(c_fl)}" if floor else "—"
        peer_sh = (f"setfattr loop: {sample / shell:,.0f} files/s (sample of {sample:,}; "
                   f"{shell_n:.0f} s extrapolated to {n:,})") if shell else "—"
        if why:
            add("B2", f"repair --apply --journal, {n:,} to fix", f"not available yet ({why})", peer_fl, "", "≤ 2× floor", "—")
            add("B2", "", "", peer_sh, "", "", "")
        else:
            add("B2", f"repair --apply --journal, {n:,} to fix", f"mkeys repair: {rate(n, rep)}{cpu(c_rep)}, RSS {rep_rss / 1024:.0f} MiB",
                peer_fl, ratio(rep, floor) + " time" + cratio(c_rep, c_fl), "≤ 2× floor", holds(rep <= 2 * floor))
            add("B2", "", f"all {n:,} files fixed: {verified}", peer_sh, ratio(rep, shell_n) + " time", "", "")
    elif kind == "b3":
        name, ns = r[1], f(r[2])
        add("B3", name.replace("BM_", ""), f"{ns:,.0f} ns/op ({1e9 / ns:,.0f} ops/s per core)", "", "", "", "")
    elif kind == "b4":
        seqn, concn, hs = int(r[1]), int(r[2]), f(r[3])
        peer = f"openssl s_time: {hs:,.0f} handshakes/s" if hs else "openssl s_time: —"
        why = r[10] if len(r) > 10 else ""
        if why or len(r) <= 4 or not r[4]:
            add("B4", f"{seqn} sequential joins", f"not available yet ({why})", peer, "", "≥ 0.5× handshake rate", "—")
            add("B4", f"{concn} concurrent joins", f"not available yet ({why})", "", "", "p99 < 100 ms", "—")
        else:
            seq_s, p50, p99, conc_s, cp50, cp99 = map(f, r[4:10])
            fails = int(r[11]) if len(r) > 11 and r[11] else 0
            def ms(x):
                return f"{x:.0f} ms" if x is not None else "—"
            seq_ok = int(r[13]) if len(r) > 13 and r[13] else 0
            conc_ok = int(r[14]) if len(r) > 14 and r[14] else 0
            jr = seq_ok / seq_s if seq_s and seq_ok == seqn else None
            add("B4", f"{seqn} sequential joins",
                (f"{jr:,.1f} joins/s, p50 {ms(p50)}, p99 {ms(p99)}" if jr else
                 f"{seq_ok} of {seqn} succeeded (p50 {ms(p50)})"),
                peer, f"{jr / hs:.3f}× rate" if hs and jr else "—", "≥ 0.5× handshake rate",
                holds(bool(hs and jr and jr >= 0.5 * hs)))
            add("B4", f"{concn} concurrent joins",
                (f"{concn / conc_s:,.1f} joins/s, p50 {ms(cp50)}, p99 {ms(cp99)}" if conc_ok == concn else
                 f"{conc_ok} of {concn} succeeded"),
                "", "", "p99 < 100 ms", holds(cp99 is not None and cp99 < 100 and conc_ok == concn))
            if fails:
                add("B4", "failed joins", f"{fails} of {seqn + concn}: {r[12] if len(r) > 12 else ''}", "", "", "0", "NO")
    elif kind == "b5":
        n, gf, au, au_rss, fl = int(r[1]), f(r[2]), f(r[3]), f(r[4]), f(r[5])
        why = r[6] if len(r) > 6 else ""
        c_gf, c_au = (f(x) for x in (r[7:9] + ["", ""])[:2])
        peer = f"getfattr -R: {rate(n, gf)}{cpu(c_gf)}; floor_getxattr: {rate(n, fl)}"
        if why:
            add("B5", f"audit on ntfs-3g, {n:,} containers", f"not available yet ({why})", peer, "", "≤ 1.2× getfattr", "—")
        else:
            add("B5", f"audit on ntfs-3g, {n:,} containers", f"mkeys audit: {rate(n, au)}{cpu(c_au)}, RSS {au_rss / 1024:.0f} MiB",
                peer, ratio(au, gf) + " time" + cratio(c_au, c_gf), "≤ 1.2× getfattr", holds(au <= 1.2 * gf))
    elif kind == "b6":
        n, gf, au, im, im_rss = int(r[1]), f(r[2]), f(r[3]), f(r[4]), f(r[5])
        why = r[6] if len(r) > 6 else ""
        peer = f"mount + getfattr -R: {rate(n, gf)}; mount + mkeys audit: {rate(n, au)}"
        if why:
            add("B6", f"audit of a disk image, {n:,} containers", f"not available ({why})", peer, "", "≥ 2× getfattr, RSS < 256 MiB", "—")
        else:
            add("B6", f"audit of a disk image, {n:,} containers",
                f"mkeys audit IMAGE: {rate(n, im)}, RSS {im_rss / 1024:.0f} MiB", peer,
                ratio(im, gf) + " time", "≥ 2× getfattr, RSS < 256 MiB",
                holds(im * 2 <= gf and im_rss < 256 * 1024))
    elif kind == "b7":
        n = int(r[1]); sq, sq50, sq99, et, et50, et99 = (f(x) for x in (r[2:8] + [""] * 6)[:6])
        fails = int(r[8]) if len(r) > 8 and r[8] else 0
        why = r[9] if len(r) > 9 else ""
        def jr(secs, p50, p99):
            ms = lambda x: f"{x:.0f} ms" if x is not None else "—"
            return f"{n / secs:,.1f} joins/s, p50 {ms(p50)}, p99 {ms(p99)}"
        if not et or not sq:
            add("B7", f"{n} joins, 2 managers on etcd", f"not available ({why})",
                f"1 manager on SQLite: {jr(sq, sq50, sq99)}" if sq else "—", "", "reported", "—")
        else:
            add("B7", f"{n} joins, 2 managers on a 3-member etcd", jr(et, et50, et99),
                f"1 manager on SQLite: {jr(sq, sq50, sq99)}", ratio(et, sq) + " time", "reported", "—")
        if fails:
            add("B7", "failed joins", f"{fails} of {2 * n}: {why}", "", "", "0", "NO")

head = ("bench", "case", "mkeys", "peer (same run, same tree)", "ratio", "goal", "holds")
widths = [max(len(str(x[i])) for x in out + [head]) for i in range(len(head))]
def line(x):
    return "| " + " | ".join(str(v).ljust(widths[i]) for i, v in enumerate(x)) + " |"
print()
print(f"mkeys benchmarks — medians of {runs} runs, {cores} cores, Linux {kernel}, total {total} s; "
      f"load average at the end {open('/proc/loadavg').read().split()[0]}")
print()
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for x in out:
    print(line(x))
print()
for n in notes:
    print("- " + n)
EOF
