#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for SECONDS (default 60) on its seed corpus.
# A crash stops the run with the reproducer path; turn every crash into a regression test
# (tests/<lib>/..._regression) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$(nproc)"
status=0
summary=()
for bin in build/fuzz/fuzz/fuzz_*; do
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=fuzz/corpus/$name
  work=build/fuzz/corpus-run/$name
  mkdir -p "$work" "$seeds"
  # Seeds from the repository, plus generated ones (e.g. the Windows SDDL vectors).
  if [ -x "fuzz/seed_$name.sh" ]; then bash "fuzz/seed_$name.sh" "$work"; fi
  log=build/fuzz/$name.log
  echo "fuzz: $name for ${seconds}s"
  if "$bin" -print_final_stats=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="build/fuzz/crash-$name-" "$work" "$seeds" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
    summary+=("$name: ok, ${execs:-?} executions")
  else
    status=1
    summary+=("$name: FAILED (see $log; reproducer build/fuzz/crash-$name-*)")
    tail -40 "$log"
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
