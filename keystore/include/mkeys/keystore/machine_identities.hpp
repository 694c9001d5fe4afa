// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Identities as a machine knows them: its local users and groups (SAM), its user rights
// (SECURITY) and its services (SYSTEM), on top of the acl catalogue (acl/token.hpp).
// MachineRoot::TokenFor uses these; so do the commands that take --root.
// docs/machine-policy.md, "Tokens from the machine", says how each token is built.

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

// The prefix that asks for a service's token: "service:CryptSvc".
inline constexpr std::string_view kServicePrefix = "service:";

// A local user or group of the machine by name: "name", ".\name", "HOST\name" (any host name),
// "BUILTIN\name" for builtin aliases; ASCII case-insensitive. Also a SID string naming a local
// user or alias. nullopt if the SAM knows no such account.
struct LocalAccountRef {
  acl::Sid sid;
  std::string name;
  bool is_user = false;  // a user (else an alias / local group)
};
std::optional<LocalAccountRef> FindLocalAccount(const MachinePolicy& policy, std::string_view text);

// Resolves a principal as the machine knows it: a local account first, then Windows'
// well-known names (acl::ResolveName). kNotFound naming `text` otherwise.
Result<acl::Sid> ResolvePrincipal(const MachinePolicy* policy, std::string_view text);

// "HOST\Preston" style name for `sid`: the machine's own name for a local account
// ("BUILTIN\Users", "<host>\Preston" with host "." when the hive does not say), else
// acl::DisplayName.
std::string MachineDisplayName(const MachinePolicy* policy, const acl::Sid& sid);

// The token of `identity` on a machine with `policy` (may be null: the catalogue alone) and
// the user-rights assignment `privileges`:
//  - "service:NAME": the service's token from the SYSTEM hive (ServiceTokenFor);
//  - a local user ("HOST\name", ".\name", "name", or its SID): an interactive logon of that
//    user with its alias memberships (elevated: Administrators enabled);
//  - anything acl::TokenFor takes, plus the machine's alias memberships of its user and groups.
// Privileges are the machine's assignment to the token's SIDs (SYSTEM keeps the kernel's).
Result<acl::Token> MachineTokenFor(const MachinePolicy* policy,
                                   const std::vector<acl::PrivilegeAssignment>& privileges,
                                   std::string_view identity);

// A service's token as the service control manager builds it: its logon account, NT SERVICE\NAME
// when ServiceSidType is 1 or 3, SERVICE, Authenticated Users, Users, Everyone, the account's
// aliases; privileges those SIDs hold, filtered by RequiredPrivileges (SeChangeNotifyPrivilege
// is never filtered out). kNotFound if the SYSTEM hive is absent or has no such service, or the
// logon account is a domain account the machine cannot know (use --token).
Result<acl::Token> ServiceTokenFor(const MachinePolicy& policy,
                                   const std::vector<acl::PrivilegeAssignment>& privileges,
                                   std::string_view service_name);

// The model machine's initial policy: CreateModelHives, the builtin aliases Windows creates
// (Administrators, Users with INTERACTIVE and Authenticated Users, Guests, Backup Operators,
// IIS_IUSRS with IUSR) and `privileges` granted in SECURITY.
Result<void> WriteModelPolicy(const std::filesystem::path& root, const std::string& machine_guid,
                              const std::vector<acl::PrivilegeAssignment>& privileges);

}  // namespace mkeys::keystore
