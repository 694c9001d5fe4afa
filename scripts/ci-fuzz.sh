#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# CI stage: every libFuzzer target for 30 s (FUZZ_SECONDS to change it; `make fuzz` runs 60 s), one after the other.
# Fails if any target crashes, leaks, times out, breaks an invariant or does not build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
status=0
bash fuzz/run.sh "${FUZZ_SECONDS:-30}" || status=$?
echo "ci-fuzz: total $(( $(date +%s) - start )) s"
exit $status
