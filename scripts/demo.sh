#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The mkeys story on one machine (what `make demo` runs): a manager and a member node, the
# member hardened the way the appliance vendor in the TMG case hardened it; the join stops at
# preflight with the KEYSET DOES NOT EXIST diagnosis; mkeys repairs the store with a journal;
# the join succeeds; the firewall service's identity opens the array key.
# Both machine roots are left under build/demo/ to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
MKEYS=${MKEYS:-$PWD/build/mkeys}
DEMO=${DEMO_DIR:-$PWD/build/demo}
SERVICE='NT AUTHORITY\NETWORK SERVICE'

bold=$(tput bold 2>/dev/null || true); dim=$(tput dim 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true)
[ -t 1 ] || { bold=; dim=; off=; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }

server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

rm -rf "$DEMO"
mkdir -p "$DEMO"
MANAGER=$DEMO/manager
MEMBER=$DEMO/member

step "1. Two model machines: the array manager and a new member"
run "$MKEYS" machine init "$MANAGER" --machine-guid 0f6d7c1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5 >/dev/null
run "$MKEYS" machine init "$MEMBER" --machine-guid c49c7513-8b86-4d0e-90bf-4805804a9318 >/dev/null
say "Both roots carry the descriptors of a default Windows Server installation."

step "2. The manager creates the array and serves joins on 127.0.0.1 (TLS 1.3)"
run "$MKEYS" array create "$MANAGER" --name TMG-Array
"$MKEYS" array serve "$MANAGER" --listen 127.0.0.1:0 --port-file "$DEMO/port" 2>"$DEMO/manager.log" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$DEMO/port" ] && break; sleep 0.1; done
[ -s "$DEMO/port" ] || { say "manager did not start:"; cat "$DEMO/manager.log"; exit 1; }
PORT=$(cat "$DEMO/port")
say "manager listening on 127.0.0.1:$PORT"

step "3. The manager issues a one-time join token (kept in a file, never on a command line)"
( umask 077; "$MKEYS" --json array token "$MANAGER" --ttl 15m --uses 2 --manager "127.0.0.1:$PORT" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$DEMO/token" )
say "token written to $DEMO/token (mode 0600)"

step "4. The member was hardened like the seed's appliance: Everyone's rights on MachineKeys removed"
run "$MKEYS" sd set "$MEMBER/ProgramData/Microsoft/Crypto/RSA/MachineKeys" 'O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)'

step "5. Join attempt: preflight stops it before any network traffic"
set +e
run "$MKEYS" array join "$MEMBER" --manager "127.0.0.1:$PORT" --token-file "$DEMO/token" \
    --service-identity "$SERVICE" --yes
rc=$?
set -e
if [ $rc -eq 0 ]; then say "unexpected: the join went through on a hardened store"; exit 1; fi
say "(exit $rc: the join refused to start; nothing was sent to the manager)"

step "6. The audit says what the hardening broke"
set +e
run "$MKEYS" audit "$MEMBER" --service "$SERVICE=mkeys-array-TMG-Array-*"
set -e

step "7. Repair: the plan first, then apply it with a journal"
run "$MKEYS" repair "$MEMBER" --service "$SERVICE=mkeys-array-TMG-Array-*" || true
run "$MKEYS" repair "$MEMBER" --service "$SERVICE=mkeys-array-TMG-Array-*" --apply --journal "$DEMO/repair.journal"
say "undo at any time with: mkeys restore $DEMO/repair.journal"

step "8. Join again"
run "$MKEYS" array join "$MEMBER" --manager "127.0.0.1:$PORT" --token-file "$DEMO/token" \
    --service-identity "$SERVICE" --yes

step "9. The firewall service's identity can open the array keys, as CryptAcquireContext would"
containers=$("$MKEYS" --json store list "$MEMBER" | python3 -c '
import json,sys
doc=json.load(sys.stdin)
items=doc["containers"] if isinstance(doc,dict) else doc
import re
print("\n".join(c["name"] for c in items if re.match(r"mkeys-array-TMG-Array-.*-v[0-9]+$", c.get("name",""))))')
[ -n "$containers" ] || { say "no array containers installed"; exit 1; }
while IFS= read -r name; do
  run "$MKEYS" store open "$MEMBER" "$name" --as "$SERVICE"
  run "$MKEYS" diagnose "$MEMBER" --as "$SERVICE" --container "$name"
done <<< "$containers"

step "10. The manager lists its member"
run "$MKEYS" array members "$MANAGER"

step "Done"
say "Explore: $MANAGER (manager) and $MEMBER (member)."
say "Try: $MKEYS store list $MEMBER    $MKEYS sd get $MEMBER/ProgramData/Microsoft/Crypto/RSA/MachineKeys --format icacls"
