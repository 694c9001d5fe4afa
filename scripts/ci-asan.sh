#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# CI stage: the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (preset
# `asan`, warnings as errors). Any sanitizer report fails the test that triggered it.
#
#   bash scripts/ci-asan.sh            # build dir build/asan (the preset's)
#   MKEYS_ASAN_BUILD_DIR=build/x bash scripts/ci-asan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MKEYS_ASAN_BUILD_DIR:-build/asan}
jobs=${JOBS:-$(nproc)}
start=$(date +%s)

cmake --preset asan -B "$build" -DMKEYS_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"
built=$(date +%s)

# Leaks count; a UBSan report aborts (the preset builds with -fno-sanitize-recover=undefined,
# halt_on_error covers C code built without it).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900) || status=$?
end=$(date +%s)
echo "ci-asan: build $(( built - start )) s, tests $(( end - built )) s, total $(( end - start )) s"
exit $status
