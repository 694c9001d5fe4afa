// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `--token FILE` next to `--as IDENTITY`: the identity a token file describes (docs/identities.md,
// "Token files"). Registered with the keystore so that every later MachineRoot::TokenFor of its
// user's name or SID (diagnose's fix plan, repair's service declarations) gets the same token.
#include <string>

#include "app.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/token_file.hpp"

namespace mkeys::cli {

// Reads and registers FILE. The identity to use in place of --as is `Keys().front()` (the user's
// name as the file gives it, else its SID string). Errors are input errors (exit 3).
inline Result<keystore::TokenFile> LoadTokenArg(const std::string& file,
                                                const keystore::MachinePolicy* policy) {
  MKEYS_ASSIGN_OR_RETURN(keystore::TokenFile parsed, keystore::ReadTokenFile(file, policy));
  keystore::RegisterTokenFile(parsed);
  return parsed;
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
