// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/fault.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mkeys::arrayjoin {

void FaultPoint(std::string_view side, std::string_view step) {
  const char* env = std::getenv("MKEYS_FAULT");
  if (env == nullptr || *env == '\0') {
    return;
  }
  std::string wanted(side);
  wanted += ':';
  wanted += step;
  std::string_view list(env);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (item == wanted) {
      _exit(kFaultExitCode);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
}

}  // namespace mkeys::arrayjoin
