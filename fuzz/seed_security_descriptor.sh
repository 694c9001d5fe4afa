#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Seeds the descriptor-bytes fuzzer with Windows' own descriptor bytes.
set -euo pipefail
out=$1
dir=$(dirname "$0")/../tests/data/windows-sddl
[ -d "$dir" ] || exit 0
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
i=0
while IFS=$'\t' read -r sddl hex; do
  case "$sddl" in '#'*) continue;; esac
  [ -n "$hex" ] || continue
  printf '%s' "$hex" | xxd -r -p > "$out/sd-$i"; i=$((i+1))
  [ $i -ge 1000 ] && break
done < "$dir/windows-sddl-bytes.tsv"
