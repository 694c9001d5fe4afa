// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one way mkeys writes times: UTC, from the system clock.

#include <ctime>
#include <string>

namespace mkeys::time {

// `when` (seconds since the epoch) formatted in UTC with strftime's `format`.
std::string UtcTimestamp(std::time_t when, const char* format);
// Now, as ISO 8601 in UTC: 2026-12-02T13:02:27Z.
std::string UtcNowIso8601();

}  // namespace mkeys::time
