#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs, from Debian's packages only, exactly what mkeys needs to build, test,
# benchmark and fuzz that is not there yet. Idempotent: when everything is present it
# only runs dpkg queries and returns in well under a second.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang clang-format clang-tidy
  libclang-rt-14-dev
  # libraries
  libssl-dev openssl libboost-dev libboost-filesystem-dev libspdlog-dev libfmt-dev
  catch2 libcli11-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libhivex-dev
  # what the tests use
  attr ntfs-3g fuse3 python3 python3-samba iproute2 tmux bc xxd strace
  # what the benchmarks use
  libbenchmark-dev hyperfine time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
