#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the libFuzzer targets (preset `fuzz`, Clang 14, ASan + UBSan) and runs each for SECONDS
# (default 60) on its seed corpus, FUZZ_JOBS (default: the number of cores) at a time.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]      e.g.  bash fuzz/run.sh 10 sddl ntacl
#
# Prints per target the executions run and ok / FAILED, and exits 1 if any target failed (a
# crash, a leak, a timeout, an invariant broken, or a target that did not build). A crash leaves
# its reproducer in build/fuzz/crash-<target>-*; docs/fuzzing.md says how to turn it into a
# regression test. The corpus each run grows is kept in build/fuzz/corpus-run/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
jobs=${FUZZ_BUILD_JOBS:-$(nproc)}

cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$jobs" --target fuzzers

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for src in fuzz/*_fuzz.cpp; do
    name=$(basename "$src" _fuzz.cpp)
    if [ -x "build/fuzz/fuzz/fuzz_$name" ]; then
      names+=("$name")
    else
      echo "fuzz: $name skipped (its parser has not landed; see the cmake output)"
    fi
  done
fi

# Recoverable UBSan reports (the libraries are built without -fno-sanitize-recover) must stop
# the run like any other finding.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# One target: fuzz it, then write its summary line to build/fuzz/<name>.result.
run_one() {
  local name=$1
  local bin=build/fuzz/fuzz/fuzz_$name
  local result_file=build/fuzz/$name.result
  if [ ! -x "$bin" ]; then
    echo "$name: FAILED (no binary $bin)" > "$result_file"
    return
  fi
  local seeds=fuzz/corpus/$name
  local work=build/fuzz/corpus-run/$name
  mkdir -p "$work"
  # Generated seeds (e.g. from the Windows vectors) go to the work corpus, which grows run by run.
  if [ -f "fuzz/seed_$name.sh" ]; then bash "fuzz/seed_$name.sh" "$work"; fi
  local dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  local extra=()
  [ -f "fuzz/dict/$name.dict" ] && extra+=("-dict=fuzz/dict/$name.dict")
  local log=build/fuzz/$name.log
  echo "fuzz: $name for ${seconds}s"
  mkdir -p build/fuzz/previous  # reproducers of an earlier run of this target
  mv -f build/fuzz/"$name"-crash-* build/fuzz/"$name"-leak-* build/fuzz/"$name"-timeout-* \
        build/fuzz/"$name"-oom-* build/fuzz/previous/ 2>/dev/null || true
  local result=0
  # Artifacts are named build/fuzz/<target>-crash-<sha1> (per target, so targets can run at once).
  "$bin" -print_final_stats=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build/fuzz/$name-" "${extra[@]}" "${dirs[@]}" >"$log" 2>&1 || result=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  if [ "$result" -eq 0 ]; then
    echo "$name: ok, ${execs:-?} executions" > "$result_file"
  else
    local repro
    repro=$(ls build/fuzz/"$name"-{crash,leak,timeout,oom}-* 2>/dev/null | head -1 || true)
    echo "$name: FAILED after ${execs:-?} executions (log $log; reproducer ${repro:-none})" > "$result_file"
    grep -E 'ERROR|runtime error|invariant broken|#[0-9]+ 0x|SUMMARY' "$log" | head -40 || true
  fi
}

# Targets run FUZZ_JOBS at a time (default: one per core); each gets its full time.
parallel=${FUZZ_JOBS:-$(nproc)}
start_all=$SECONDS
rm -f build/fuzz/*.result
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  run_one "$name" &
done
wait || true
status=0
summary=()
for name in "${names[@]}"; do
  line=$(cat "build/fuzz/$name.result" 2>/dev/null || echo "$name: FAILED (no result)")
  summary+=("$line")
  case "$line" in *FAILED*) status=1;; esac
done
echo "fuzz: $(( SECONDS - start_all ))s for ${#names[@]} targets"
printf '%s\n' "${summary[@]}"
exit $status
