#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Seeds the SID fuzzer with the distinct SIDs and SID aliases of the Windows SDDL vectors.
set -euo pipefail
out=$1
dir=$(dirname "$0")/../tests/data/windows-sddl
[ -f "$dir/windows-sddl-bytes.tsv" ] || exit 0
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
i=0
while IFS= read -r sid; do
  printf '%s' "$sid" > "$out/sid-$i"; i=$((i+1))
done < <(cut -f1 "$dir/windows-sddl-bytes.tsv" | grep -oiE 'S-1-[0-9a-fx-]+' | sort -u | head -300)
