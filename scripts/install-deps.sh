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
  ntfs-3g-dev libvhdi-dev
  # what the tests use
  attr ntfs-3g fuse3 python3 python3-samba iproute2 tmux bc xxd
  # hives edited with hivex tools in tests; strace counts reads in tests
  libhivex-bin libwin-hivex-perl python3-hivex xz-utils strace
  # disk images built in tests: partition tables, VHDX conversion
  fdisk qemu-utils
  # report validators: oscap (XCCDF), headless Chromium (HTML)
  openscap-scanner chromium
  # what the benchmarks use
  libbenchmark-dev hyperfine time
  # several array managers on one registry: a real etcd v3 cluster in the tests
  etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm installs MITRE's inspecjs (the HDF reader) into the build directory for the tests. A
# NodeSource nodejs ships its own npm and conflicts with Debian's: install it only when absent.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

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
