// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Logging: spdlog to stderr, quiet by default. Libraries get a named logger and never print.
// Never pass a secret to a logger: SecretBytes has no formatter, so it will not compile.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace mkeys {

// The logger named `name` ("acl", "keystore", "repair", "arrayjoin", "cli"), created on first
// use; all loggers share one stderr sink and the level set by SetVerbosity.
std::shared_ptr<spdlog::logger> Logger(const std::string& name);

// verbosity: -1 quiet (errors only), 0 default (warnings), 1 info (-v), 2 debug (-vv), 3 trace.
void SetVerbosity(int verbosity);

}  // namespace mkeys
