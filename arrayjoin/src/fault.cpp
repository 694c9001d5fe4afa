// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/fault.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mkeys::arrayjoin {

namespace {

// MKEYS_PAUSE=side:step=PATH[,...]: at that step, create PATH.waiting and wait (up to 10 min)
// until PATH exists, then go on. Lets a test hold a process at a step (a rotation holding its
// lock) and let it go later.
void PausePoint(const std::string& wanted) {
  const char* env = std::getenv("MKEYS_PAUSE");
  if (env == nullptr || *env == '\0') return;
  std::string_view list(env);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == wanted) {
      const std::string go(item.substr(eq + 1));
      const std::string waiting = go + ".waiting";
      const int fd = ::open(waiting.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd >= 0) ::close(fd);
      for (int i = 0; i < 12000 && ::access(go.c_str(), F_OK) != 0; ++i) ::usleep(50 * 1000);
      return;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

void FaultPoint(std::string_view side, std::string_view step) {
  if (const char* pause = std::getenv("MKEYS_PAUSE"); pause != nullptr && *pause != '\0') {
    PausePoint(std::string(side) + ':' + std::string(step));
  }
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
