#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Seeds the icacls fuzzer with /save files (UTF-16LE, CRLF, path line then SDDL line) built from
# the Windows SDDL vectors, a few descriptors per file.
set -euo pipefail
out=$1
dir=$(dirname "$0")/../tests/data/windows-sddl
[ -f "$dir/windows-sddl-bytes.tsv" ] || exit 0
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
python3 - "$dir/windows-sddl-bytes.tsv" "$out" <<'PY'
import sys
tsv, out = sys.argv[1], sys.argv[2]
sddls = []
with open(tsv) as f:
    for line in f:
        if line.startswith('#') or '\t' not in line:
            continue
        sddl = line.split('\t')[0]
        i = sddl.find('D:')
        if i >= 0:
            sddls.append(sddl[i:])
        if len(sddls) >= 1200:
            break
for n in range(0, len(sddls), 4):
    text = ''.join(f'MachineKeys\\key{n + k}\r\n{s}\r\n' for k, s in enumerate(sddls[n:n + 4]))
    open(f'{out}/save-{n // 4}', 'wb').write(text.encode('utf-16-le'))
PY
