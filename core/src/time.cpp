// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/core/time.hpp"

namespace mkeys::time {

std::string UtcTimestamp(std::time_t when, const char* format) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[128];
  const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string UtcNowIso8601() {
  return UtcTimestamp(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace mkeys::time
