// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.5.2: access tokens, and the catalogue of identities services run as.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/acl.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

// Privilege names as Windows spells them.
namespace privileges {
inline constexpr std::string_view kChangeNotify = "SeChangeNotifyPrivilege";
inline constexpr std::string_view kBackup = "SeBackupPrivilege";
inline constexpr std::string_view kRestore = "SeRestorePrivilege";
inline constexpr std::string_view kTakeOwnership = "SeTakeOwnershipPrivilege";
inline constexpr std::string_view kSecurity = "SeSecurityPrivilege";
inline constexpr std::string_view kImpersonate = "SeImpersonatePrivilege";
inline constexpr std::string_view kCreateGlobal = "SeCreateGlobalPrivilege";
inline constexpr std::string_view kAssignPrimaryToken = "SeAssignPrimaryTokenPrivilege";
inline constexpr std::string_view kIncreaseQuota = "SeIncreaseQuotaPrivilege";
inline constexpr std::string_view kAuditPrivilege = "SeAuditPrivilege";
inline constexpr std::string_view kDebug = "SeDebugPrivilege";
}  // namespace privileges

struct TokenGroup {
  Sid sid;
  bool deny_only = false;  // SE_GROUP_USE_FOR_DENY_ONLY: matches deny ACEs only
};

struct TokenPrivilege {
  std::string name;
  bool enabled = true;  // only enabled privileges take effect in an access check
};

class Token final {
 public:
  Token() = default;
  Token(Sid user, std::vector<TokenGroup> groups, std::vector<TokenPrivilege> privileges,
        std::string display_name = {});

  const Sid& user() const { return user_; }
  const std::vector<TokenGroup>& groups() const { return groups_; }
  const std::vector<TokenPrivilege>& privileges() const { return privileges_; }
  // What people call this identity ("NT AUTHORITY\NETWORK SERVICE").
  const std::string& display_name() const { return display_name_; }
  // TokenOwner: the owner given to objects this token creates (the user unless set; an
  // elevated administrator's is BUILTIN\Administrators).
  const Sid& default_owner() const { return default_owner_ ? *default_owner_ : user_; }
  // TokenPrimaryGroup: the group given to objects this token creates (the user unless set).
  const Sid& primary_group() const { return primary_group_ ? *primary_group_ : user_; }
  // TokenDefaultDacl: the DACL of an object this token creates when nothing is inherited and
  // the creator gives none (generic rights are mapped on the new object). Unset: GENERIC_ALL to
  // the default owner and to SYSTEM, as LSA builds it for a logon.
  const std::optional<Acl>& default_dacl() const { return default_dacl_; }

  // True if the user or an enabled (not deny-only) group is `sid` — for allow ACEs.
  bool MatchesForAllow(const Sid& sid) const;
  // True if the user or any group, deny-only included, is `sid` — for deny ACEs.
  bool MatchesForDeny(const Sid& sid) const;
  bool HasPrivilege(std::string_view name) const;  // present and enabled

  // Adds (or enables) a privilege. Returns *this for chaining.
  Token& EnablePrivilege(std::string_view name);
  // Removes a privilege (e.g. the machine's policy does not grant it).
  Token& RemovePrivilege(std::string_view name);
  Token& AddGroup(TokenGroup group);
  Token& SetDefaultOwner(Sid owner);
  Token& SetPrimaryGroup(Sid group);
  Token& SetDefaultDacl(Acl dacl);

 private:
  Sid user_;
  std::vector<TokenGroup> groups_;
  std::vector<TokenPrivilege> privileges_;
  std::string display_name_;
  std::optional<Sid> default_owner_;
  std::optional<Sid> primary_group_;
  std::optional<Acl> default_dacl_;
};

// Which SIDs hold which privileges on a machine (its user-rights assignment).
struct PrivilegeAssignment {
  std::string privilege;
  std::vector<Sid> holders;
};

// The catalogue of identities services run as, each with the groups and privileges Windows
// gives it (sourced in token.cpp). `identity` is anything ResolveName takes, plus the
// catalogue keys "administrator" (elevated), "administrator-filtered" (UAC-filtered:
// Administrators deny-only) and "user" (a standard user). NT SERVICE\x and IIS APPPOOL\x
// are built for any x. Unknown identities are an error.
//
// If `machine_privileges` is given, the token's privileges are those the machine assigns to
// the user or any of its groups (instead of the catalogue's defaults).
Result<Token> TokenFor(std::string_view identity,
                       const std::vector<PrivilegeAssignment>* machine_privileges = nullptr);

// Loads catalogue overrides from JSON (format in docs/identities.md): an array of
// {"name": ..., "user": "S-1-...", "groups": [{"sid": ..., "deny_only": bool}],
//  "privileges": ["Se..."]}. Later TokenFor calls for those names use them.
Result<void> LoadTokenCatalogueOverrides(std::string_view json_text);
// Forgets every override loaded so far (tests; a command that loads a different file).
void ClearTokenCatalogueOverrides();
// The catalogue's built-in identities, as TokenFor accepts them (for help texts and docs).
std::vector<std::string> TokenCatalogueNames();
// Privileges Windows marks SE_PRIVILEGE_ENABLED_BY_DEFAULT (SeChangeNotify, SeImpersonate,
// SeCreateGlobal): enabled in a new token; every other assigned privilege is present-disabled.
bool PrivilegeEnabledByDefault(std::string_view name);
// The privilege names Windows knows (for validating --privilege); case-insensitive lookup that
// also accepts the name without its "Privilege" suffix. nullopt if unknown.
std::optional<std::string> CanonicalPrivilegeName(std::string_view name);

// Windows' default user-rights assignment for the privileges that matter to file access
// (SeChangeNotify, SeBackup, SeRestore, SeTakeOwnership, SeSecurity, ...), Windows Server.
std::vector<PrivilegeAssignment> DefaultPrivilegeAssignments();

}  // namespace mkeys::acl
