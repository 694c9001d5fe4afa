// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Fault injection for tests: MKEYS_FAULT names steps ("member:after-install",
// "manager:before-record", several separated by commas). When the process reaches a named step it
// ends at once with _exit(kFaultExitCode), as if killed: no destructors, no cleanup, no reply.

#include <string_view>

namespace mkeys::arrayjoin {

inline constexpr int kFaultExitCode = 86;

// Waits at `side:step` if MKEYS_PAUSE names it (see fault.cpp), then
// ends the process if MKEYS_FAULT names `side:step`. Costs two getenv calls when neither is set.
void FaultPoint(std::string_view side, std::string_view step);

}  // namespace mkeys::arrayjoin
