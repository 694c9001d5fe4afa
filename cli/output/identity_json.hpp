// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// One JSON shape for an identity wherever a command prints one (diagnose, access check, store
// open, machine token): {"name": "IIS APPPOOL\\Shop", "sid": "S-1-5-82-..."}. The name is the
// best one known (the token's display name, the machine's name for a local account, Windows'
// well-known name) and never empty: the SID string when no name is known.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/keystore/machine_identities.hpp"

namespace mkeys::cli {

inline nlohmann::json IdentityJson(std::string_view name, std::string_view sid) {
  return {{"name", name.empty() ? std::string(sid) : std::string(name)}, {"sid", std::string(sid)}};
}

inline nlohmann::json IdentityJson(std::string_view name, const acl::Sid& sid) {
  return IdentityJson(name, sid.ToString());
}

// A SID by the machine's name for it (local accounts, its services), else Windows'.
inline nlohmann::json IdentityJson(const acl::Sid& sid, const keystore::MachinePolicy* policy) {
  return IdentityJson(keystore::MachineDisplayName(policy, sid), sid);
}

// A token's user, by the token's display name.
inline nlohmann::json IdentityJson(const acl::Token& token) {
  return IdentityJson(
      token.display_name().empty() ? acl::DisplayName(token.user()) : token.display_name(),
      token.user());
}

}  // namespace mkeys::cli
