// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// IIS application pools as a Windows image configures them: the <applicationPools> section of
// Windows/System32/inetsrv/config/applicationHost.config (the pool names and the identity each
// worker process runs as). docs/identities.md, "IIS application pools", says how a pool's token
// is built from them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::keystore {

inline constexpr std::string_view kApplicationHostConfigRelative =
    "Windows/System32/inetsrv/config/applicationHost.config";
// A real applicationHost.config is tens of KiB; anything past this is not one.
inline constexpr std::size_t kMaxApplicationHostConfigBytes = 16u << 20;

// processModel identityType; IIS's default is ApplicationPoolIdentity.
enum class AppPoolIdentityType {
  kApplicationPoolIdentity,
  kNetworkService,
  kLocalService,
  kLocalSystem,
  kSpecificUser
};
std::string_view AppPoolIdentityTypeName(AppPoolIdentityType type);

struct AppPool {
  std::string name;
  AppPoolIdentityType identity_type = AppPoolIdentityType::kApplicationPoolIdentity;
  std::string user_name;  // processModel userName, for kSpecificUser ("" otherwise)
  std::size_t line = 0;   // of the pool's <add> in the file
};

struct IisFacts {
  std::string source;  // the file, relative to the machine root
  std::vector<AppPool> pools;
  const AppPool* Find(std::string_view name) const;  // ASCII case-insensitive, as IIS compares
};

// Parses applicationHost.config's <configuration><system.applicationHost><applicationPools>:
// <applicationPoolDefaults><processModel identityType=…/>, then <add name=…> (with an optional
// <processModel> child), <remove name=…/> and <clear/>, in order. The rest of the
// document is checked for well-formedness and otherwise ignored. kParse with "line L, column C"
// and the position (byte offset) for malformed XML, an unknown identityType, a pool without a
// name or a pool named twice.
Result<IisFacts> ParseApplicationHostConfig(std::string_view xml);

}  // namespace mkeys::keystore
