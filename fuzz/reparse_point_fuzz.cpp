// SPDX-License-Identifier: GPL-3.0-or-later
// Reparse point buffers (junctions and symbolic links read from images and ntfs-3g mounts):
// parse or fail cleanly with an offset inside the input; a parsed point names its kind.
// fuzz-links: mkeys::keystore
// fuzz-requires: keystore/src/reparse_point.cpp
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "mkeys/keystore/reparse_point.hpp"

using mkeys::fuzz::Check;
namespace ks = mkeys::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto point = ks::ParseReparsePoint(std::span<const std::uint8_t>(data, size));
  if (!point) {
    Check(point.error().position().value_or(0) <= size, "an error offset lies past the input");
    return 0;
  }
  Check(!point->kind.empty(), "a parsed reparse point has no kind");
  return 0;
}
