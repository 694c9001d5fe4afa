#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The install test: `cmake --install BUILD --prefix TMP/p`, then a project outside mkeys
# (tests/install/consumer) configured with find_package(mkeys) against that prefix, built and run.
# Also checks that the program, the man page and the bash completion were installed.
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/p" >/dev/null
for f in bin/mkeys share/man/man1/mkeys.1 share/bash-completion/completions/mkeys \
         lib/cmake/mkeys/mkeysConfig.cmake include/mkeys/acl/sddl.hpp lib/libmkeys_acl.a; do
  [ -e "$work/p/$f" ] || { echo "install: $f missing"; exit 1; }
done
grep -q '^\.TH MKEYS 1' "$work/p/share/man/man1/mkeys.1" || { echo "install: man page has no .TH"; exit 1; }
grep -q 'complete -F _mkeys mkeys' "$work/p/share/bash-completion/completions/mkeys" \
  || { echo "install: completion script incomplete"; exit 1; }
"$work/p/bin/mkeys" --version | grep -q '^mkeys ' || { echo "install: mkeys --version failed"; exit 1; }
# The consumer is compiled and linked with the flags mkeys was built with: a sanitizer build's
# static libraries need the sanitizer runtime in the consumer too.
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cxx_flags=$(cache_value CMAKE_CXX_FLAGS)
link_flags=$(cache_value CMAKE_EXE_LINKER_FLAGS)
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/p" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$link_flags" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
out=$("$work/consumer/consumer")
echo "$out"
# The file name Windows gives MyCoolContainer on that machine, and the canonical SDDL.
[ "$(sed -n 1p <<<"$out")" = "52ab417621a9d74c73e3e0f1bc374e0a_c49c7513-8b86-4d0e-90bf-4805804a9318" ]
[ "$(sed -n 2p <<<"$out")" = "O:SYG:SYD:PAI(A;;FA;;;WD)" ]
echo "install: consumer built against find_package(mkeys) and ran"
