#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Seeds the SDDL fuzzer with every SDDL string of the Windows conformance vectors.
set -euo pipefail
out=$1
dir=$(dirname "$0")/../tests/data/windows-sddl
[ -d "$dir" ] || exit 0
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
i=0
while IFS=$'\t' read -r sddl _; do
  case "$sddl" in '#'*|'') continue;; esac
  printf '%s' "$sddl" > "$out/tsv-$i"; i=$((i+1))
  [ $i -ge 2000 ] && break
done < "$dir/windows-sddl-bytes.tsv"
for f in canonical non_canonical should_fail windows_is_less_fussy windows_is_weird; do
  while IFS= read -r line; do
    printf '%s' "${line%% -> *}" > "$out/$f-$i"; i=$((i+1))
  done < "$dir/$f.txt"
done
