// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// An invariant a fuzz target checks beyond "no crash": when it breaks, say which and abort so
// that libFuzzer saves the input.
#include <cstdio>
#include <cstdlib>

namespace mkeys::fuzz {

inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace mkeys::fuzz
