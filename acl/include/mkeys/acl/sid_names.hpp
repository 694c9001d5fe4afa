// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Names for SIDs: the well-known table (name, domain, SDDL alias), domain-relative aliases,
// and resolution of what administrators type.

#include <optional>
#include <string>
#include <string_view>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

struct SidName {
  Sid sid;
  std::string domain;  // "NT AUTHORITY", "BUILTIN", "NT SERVICE", "IIS APPPOOL", "" (Everyone)
  std::string name;    // "NETWORK SERVICE"
  std::string alias;   // SDDL alias ("NS"), empty when there is none

  // "NT AUTHORITY\NETWORK SERVICE", or just "Everyone" when the domain is empty.
  std::string FullName() const;
};

// Resolves what an administrator types, case-insensitively: "NT AUTHORITY\NETWORK SERVICE",
// "NETWORK SERVICE", "NetworkService", "NS", "S-1-5-20", "BUILTIN\Administrators",
// "Everyone", "NT SERVICE\fwsrv", "IIS APPPOOL\DefaultAppPool". An unknown name is an error
// that says so. `domain_sid` enables domain-relative names and aliases (DA, DU, LA, ...).
Result<SidName> ResolveName(std::string_view text, const std::optional<Sid>& domain_sid = {});

// The best name for a SID: the well-known entry, NT SERVICE / IIS APPPOOL when recognisable
// only by prefix (name unknown: the SID string is used as the name), else nullopt.
std::optional<SidName> LookupSid(const Sid& sid, const std::optional<Sid>& domain_sid = {});

// "NT AUTHORITY\NETWORK SERVICE" for a known SID, the SID string otherwise.
std::string DisplayName(const Sid& sid, const std::optional<Sid>& domain_sid = {});

// SDDL alias <-> SID (MS-DTYP 2.5.1.1). Alias lookup is case-insensitive.
std::optional<Sid> SidFromAlias(std::string_view alias, const std::optional<Sid>& domain_sid = {});
std::optional<std::string_view> AliasForSid(const Sid& sid,
                                            const std::optional<Sid>& domain_sid = {});

}  // namespace mkeys::acl
