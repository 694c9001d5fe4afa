#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Seeds the NTACL fuzzer with Windows' own descriptor bytes, both raw (as system.ntfs_acl holds
# them) and wrapped as Samba xattr_NTACL version 1 blobs (8-byte header, offsets from the blob
# start).
set -euo pipefail
out=$1
dir=$(dirname "$0")/../tests/data/windows-sddl
[ -f "$dir/windows-sddl-bytes.tsv" ] || exit 0
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
python3 - "$dir/windows-sddl-bytes.tsv" "$out" <<'PY'
import struct, sys
tsv, out = sys.argv[1], sys.argv[2]
n = 0
with open(tsv) as f:
    for line in f:
        if line.startswith('#') or '\t' not in line:
            continue
        hexpart = line.rstrip('\n').split('\t')[1].strip()
        try:
            sd = bytes.fromhex(hexpart)
        except ValueError:
            continue
        if len(sd) < 20:
            continue
        open(f"{out}/raw-{n}", "wb").write(sd)
        offsets = [o + 8 if o else 0 for o in struct.unpack_from('<4I', sd, 4)]
        blob = struct.pack('<HHI', 1, 1, 0x00020000) + sd[:4] + struct.pack('<4I', *offsets) + sd[20:]
        open(f"{out}/ntacl-{n}", "wb").write(blob)
        n += 1
        if n >= 500:
            break
PY
