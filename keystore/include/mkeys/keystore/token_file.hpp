// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `--token FILE`: an identity the machine image cannot know (a domain account), described in
// JSON — its user SID, groups and privileges. Format and rules in docs/identities.md,
// "Token files (--token FILE)".
//
//   {"user": {"name": "CONTOSO\\svc-web", "sid": "S-1-5-21-...-1105"},
//    "groups": ["S-1-5-21-...-513", {"name": "CONTOSO\\Web", "sid": "S-1-5-21-...-1120"}],
//    "privileges": ["SeChangeNotifyPrivilege"],
//    "logon": "service"}

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace mkeys::keystore {

// How the account logged on: the logon groups Windows adds to every such token.
enum class TokenFileLogon : std::uint8_t { kNone, kService, kInteractive, kNetwork, kBatch };
std::string_view TokenFileLogonName(TokenFileLogon logon);  // "none", "service", ...

struct TokenFilePrincipal {
  acl::Sid sid;
  std::string name;  // as the file gives it ("CONTOSO\svc-web"); "" when only the SID is given
  bool deny_only = false;  // groups only
};

struct TokenFile {
  TokenFilePrincipal user;
  std::vector<TokenFilePrincipal> groups;
  // nullopt: the machine's user-rights assignment decides (as for every other identity).
  std::optional<std::vector<acl::TokenPrivilege>> privileges;
  TokenFileLogon logon = TokenFileLogon::kNone;

  // The name to show: the file's name for the user, else the machine's, else the SID.
  std::string DisplayName(const MachinePolicy* policy) const;
  // The keys MachineTokenFor answers this file for: the user's name (if given) and SID string.
  std::vector<std::string> Keys() const;
};

// Parses a token file. Strict: JSON syntax errors carry the byte offset (Error::position);
// unknown or duplicate keys, wrong types, SIDs that do not parse, names neither the machine
// (`policy`, may be null) nor Windows' well-known names know, a name that the machine gives a
// different SID than the file, and unknown privilege names are kParse errors naming the JSON
// path ("token file: $.groups[1].sid: ...").
Result<TokenFile> ParseTokenFile(std::string_view json_text, const MachinePolicy* policy = nullptr);
// Reads and parses FILE; a file that cannot be read is kNotFound / kIo naming it.
Result<TokenFile> ReadTokenFile(const std::filesystem::path& file,
                                const MachinePolicy* policy = nullptr);

// The token: the user, the file's groups, the logon's groups, the machine's alias memberships of
// the user and every group (SAM), and the file's privileges (enabled unless the file says not)
// or, when the file gives none, those `assignments` give the token's SIDs.
acl::Token TokenFromFile(const TokenFile& file, const MachinePolicy* policy,
                         const std::vector<acl::PrivilegeAssignment>& assignments);

// Process-wide: MachineTokenFor answers any of `file.Keys()` with TokenFromFile (what the
// commands' --token does, so that diagnose's fix plan and repair see the same identity).
void RegisterTokenFile(TokenFile file);
std::optional<TokenFile> FindRegisteredTokenFile(std::string_view identity);
void ClearRegisteredTokenFiles();

}  // namespace mkeys::keystore
