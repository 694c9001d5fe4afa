#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, Clang 14, ASan + UBSan) and runs each for SECONDS
# (default 60) on its seed corpus, one after the other.
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

status=0
summary=()
start_all=$SECONDS
for name in "${names[@]}"; do
  bin=build/fuzz/fuzz/fuzz_$name
  if [ ! -x "$bin" ]; then
    status=1
    summary+=("$name: FAILED (no binary $bin)")
    continue
  fi
  seeds=fuzz/corpus/$name
  work=build/fuzz/corpus-run/$name
  mkdir -p "$work"
  # Generated seeds (e.g. from the Windows vectors) go to the work corpus, which grows run by run.
  if [ -f "fuzz/seed_$name.sh" ]; then bash "fuzz/seed_$name.sh" "$work"; fi
  dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  extra=()
  [ -f "fuzz/dict/$name.dict" ] && extra+=("-dict=fuzz/dict/$name.dict")
  log=build/fuzz/$name.log
  echo "fuzz: $name for ${seconds}s"
  mkdir -p build/fuzz/previous  # reproducers of an earlier run of this target
  mv -f build/fuzz/crash-"$name"-* build/fuzz/leak-"$name"-* build/fuzz/timeout-"$name"-* \
        build/fuzz/oom-"$name"-* build/fuzz/previous/ 2>/dev/null || true
  result=0
  "$bin" -print_final_stats=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build/fuzz/" "${extra[@]}" "${dirs[@]}" >"$log" 2>&1 || result=$?
  # libFuzzer names artifacts crash-<sha1>; give them the target's name.
  for f in build/fuzz/*; do
    base=$(basename "$f")
    [[ "$base" =~ ^(crash|leak|timeout|oom|slow-unit)-([0-9a-f]{40})$ ]] || continue
    mv "$f" "build/fuzz/${BASH_REMATCH[1]}-$name-${BASH_REMATCH[2]}"
  done
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  if [ "$result" -eq 0 ]; then
    summary+=("$name: ok, ${execs:-?} executions")
  else
    status=1
    repro=$(ls build/fuzz/{crash,leak,timeout,oom}-"$name"-* 2>/dev/null | head -1 || true)
    summary+=("$name: FAILED after ${execs:-?} executions (log $log; reproducer ${repro:-none})")
    grep -E 'ERROR|runtime error|invariant broken|#[0-9]+ 0x|SUMMARY' "$log" | head -40 || true
  fi
done
echo "fuzz: $(( SECONDS - start_all ))s for ${#names[@]} targets"
printf '%s\n' "${summary[@]}"
exit $status
