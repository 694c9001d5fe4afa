// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `--token FILE` next to `--as IDENTITY`: the identity a token file describes (docs/identities.md,
// "Token files"). Registered with the keystore so that every later MachineRoot::TokenFor of its
// user's name or SID (diagnose's fix plan, repair's service declarations) gets the same token.
#include <optional>
#include <string>

#include "app.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/token_file.hpp"

namespace mkeys::cli {

// Reads and registers FILE; returns the identity to use in place of --as (the user's name as the
// file gives it, else its SID string). Prints the error and sets `exit` (3) on failure.
inline std::optional<keystore::TokenFile> LoadTokenArg(Context& ctx, const std::string& file,
                                                       const keystore::MachinePolicy* policy,
                                                       std::string& identity, int& exit) {
  auto parsed = keystore::ReadTokenFile(file, policy);
  if (!parsed) {
    ctx.out.PrintError(parsed.error());
    exit = kExitInput;
    return std::nullopt;
  }
  identity = parsed->Keys().front();
  keystore::RegisterTokenFile(*parsed);
  return std::move(*parsed);
}

// --as and --token: exactly one.
inline bool CheckAsOrToken(Context& ctx, const std::string& as, const std::string& token) {
  if (as.empty() == token.empty()) {
    ctx.out.PrintError(
        Error(ErrorCode::kInvalidArgument, "give exactly one of --as IDENTITY or --token FILE"));
    return false;
  }
  return true;
}

}  // namespace mkeys::cli
