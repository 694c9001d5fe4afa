// SPDX-License-Identifier: GPL-3.0-or-later
// Tokens and names from a machine's own hives: local users and groups (SAM), user rights
// (SECURITY), services (SYSTEM). docs/machine-policy.md, "Tokens from the machine".
#include "mkeys/keystore/machine_identities.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/token_file.hpp"

namespace mkeys::keystore {
namespace {

using acl::Sid;
using acl::Token;
using acl::TokenGroup;
using acl::TokenPrivilege;

// "BUILTIN\x" / ".\x" / "HOST\x" / "x" -> ("BUILTIN", "x") etc.
std::pair<std::string_view, std::string_view> SplitDomain(std::string_view text) {
  const auto slash = text.find('\\');
  if (slash == std::string_view::npos) return {{}, text};
  return {text.substr(0, slash), text.substr(slash + 1)};
}

// Domains that name Windows' well-known principals, never a local account.
bool IsWellKnownDomain(std::string_view domain) {
  for (std::string_view d : {"NT AUTHORITY", "NT SERVICE", "IIS APPPOOL", "NT VIRTUAL MACHINE",
                             "Window Manager", "Font Driver Host"}) {
    if (text::EqualsIgnoreAsciiCase(d, domain)) return true;
  }
  return false;
}

bool HasGroup(const Token& token, const Sid& sid) {
  return std::any_of(token.groups().begin(), token.groups().end(),
                     [&](const TokenGroup& g) { return g.sid == sid; });
}

// Adds every alias the machine lists the token's user or (enabled) groups in; aliases do not
// nest in SAM, so one pass suffices. Returns whether a group was added.
bool AddAliasGroups(Token& token, const MachinePolicy& policy) {
  std::vector<Sid> members = {token.user()};
  for (const auto& g : token.groups()) {
    if (!g.deny_only) members.push_back(g.sid);
  }
  bool added = false;
  for (const auto& member : members) {
    for (const LocalAlias* alias : policy.AliasesOf(member)) {
      if (HasGroup(token, alias->sid) || token.user() == alias->sid) continue;
      token.AddGroup({alias->sid, false});
      added = true;
    }
  }
  return added;
}

// The privileges `assignments` give the token's user and enabled groups, enabled when Windows
// enables them by default; `keep` filters them (a service's RequiredPrivileges).
Token WithPrivileges(const Token& token, const std::vector<acl::PrivilegeAssignment>& assignments,
                     const ServiceConfig* service = nullptr) {
  std::vector<std::string> held;
  for (const auto& assignment : assignments) {
    const bool holds =
        std::any_of(assignment.holders.begin(), assignment.holders.end(),
                    [&](const Sid& holder) { return token.MatchesForAllow(holder); });
    if (holds && std::find(held.begin(), held.end(), assignment.privilege) == held.end()) {
      held.push_back(assignment.privilege);
    }
  }
  if (service != nullptr) held = ServiceTokenPrivileges(*service, held);
  std::vector<TokenPrivilege> privileges;
  for (const auto& name : held) privileges.push_back({name, acl::PrivilegeEnabledByDefault(name)});
  Token out(token.user(), token.groups(), std::move(privileges), token.display_name());
  if (token.default_owner() != token.user()) out.SetDefaultOwner(token.default_owner());
  if (token.primary_group() != token.user()) out.SetPrimaryGroup(token.primary_group());
  if (token.default_dacl()) out.SetDefaultDacl(*token.default_dacl());
  return out;
}

// SYSTEM's token is built by the kernel, not from the user-rights assignment: filter only.
Token FilterSystemPrivileges(const Token& token, const ServiceConfig& service) {
  std::vector<std::string> held;
  for (const auto& p : token.privileges()) held.push_back(p.name);
  const auto kept = ServiceTokenPrivileges(service, held);
  std::vector<TokenPrivilege> privileges;
  for (const auto& p : token.privileges()) {
    if (std::find(kept.begin(), kept.end(), p.name) != kept.end()) privileges.push_back(p);
  }
  Token out(token.user(), token.groups(), std::move(privileges), token.display_name());
  out.SetDefaultOwner(token.default_owner());
  out.SetPrimaryGroup(token.primary_group());
  if (token.default_dacl()) out.SetDefaultDacl(*token.default_dacl());
  return out;
}

// An interactive logon of a local user (`whoami /groups` of a local account): Everyone,
// INTERACTIVE, CONSOLE LOGON, Authenticated Users, This Organization, Local account, LOCAL,
// NTLM Authentication, its aliases (Users through INTERACTIVE / Authenticated Users), and
// "Local account and member of Administrators" when it is one.
Token LocalUserToken(const MachinePolicy& policy, const LocalAccountRef& user) {
  std::vector<TokenGroup> groups;
  for (const Sid& sid : {acl::sids::Everyone(), acl::sids::Interactive(), acl::sids::ConsoleLogon(),
                         acl::sids::AuthenticatedUsers(), acl::sids::ThisOrganization(),
                         acl::sids::LocalAccount(), acl::sids::Local(), Sid::Of(5, {64, 10})}) {
    groups.push_back({sid, false});
  }
  Token token(user.sid, std::move(groups), {}, MachineDisplayName(&policy, user.sid));
  AddAliasGroups(token, policy);
  if (HasGroup(token, acl::sids::Administrators())) {
    token.AddGroup({acl::sids::LocalAccountAndAdmin(), false});
    token.SetDefaultOwner(acl::sids::Administrators());
  }
  return token;
}

Token ServiceBaseToken(const Sid& logon, const MachinePolicy& policy,
                       const std::vector<acl::PrivilegeAssignment>& privileges) {
  if (auto catalogue = acl::TokenFor(logon.ToString(), &privileges)) return std::move(*catalogue);
  // A local user account: the groups of any service logon.
  std::vector<TokenGroup> groups;
  for (const Sid& sid :
       {acl::sids::Everyone(), acl::sids::Users(), acl::sids::Service(), acl::sids::ConsoleLogon(),
        acl::sids::AuthenticatedUsers(), acl::sids::ThisOrganization(), acl::sids::Local()}) {
    groups.push_back({sid, false});
  }
  return Token(logon, std::move(groups), {}, MachineDisplayName(&policy, logon));
}

// "IIS APPPOOL\Shop" -> "Shop"; nullopt for anything else.
std::optional<std::string_view> AppPoolName(std::string_view identity) {
  const auto [domain, name] = SplitDomain(identity);
  if (name.empty() || !text::EqualsIgnoreAsciiCase(domain, "IIS APPPOOL")) return std::nullopt;
  return name;
}

// A worker process of `pool` whose processModel names an account (NetworkService, LocalService,
// LocalSystem or a local user): that account's token, plus BUILTIN\IIS_IUSRS and the pool's own
// SID (IIS adds both to every worker process token, whatever its identity, so that ACLs on
// IIS_IUSRS and on IIS APPPOOL\<pool> apply: IIS's "configuration isolation").
Result<Token> AccountAppPoolToken(const MachinePolicy& policy,
                                  const std::vector<acl::PrivilegeAssignment>& privileges,
                                  const AppPool& pool) {
  Sid logon = acl::sids::NetworkService();
  switch (pool.identity_type) {
    case AppPoolIdentityType::kLocalService:
      logon = acl::sids::LocalService();
      break;
    case AppPoolIdentityType::kLocalSystem:
      logon = acl::sids::LocalSystem();
      break;
    case AppPoolIdentityType::kSpecificUser: {
      const auto local = FindLocalAccount(policy, pool.user_name);
      if (!local || !local->is_user) {
        return Error(
            ErrorCode::kNotFound,
            fmt::format("application pool '{}' runs as '{}' (SpecificUser, {} line {}), "
                        "an account this machine's SAM does not know: describe its token "
                        "with --token FILE",
                        pool.name, pool.user_name, kApplicationHostConfigRelative, pool.line));
      }
      logon = local->sid;
      break;
    }
    default:
      break;
  }
  Token token = ServiceBaseToken(logon, policy, privileges);
  for (const Sid& sid : {acl::sids::IisUsers(), acl::AppPoolSid(pool.name)}) {
    if (!HasGroup(token, sid) && token.user() != sid) token.AddGroup({sid, false});
  }
  AddAliasGroups(token, policy);
  Token named(token.user(), token.groups(), token.privileges(),
              fmt::format("{} (app pool {})", MachineDisplayName(&policy, logon), pool.name));
  named.SetDefaultOwner(token.default_owner());
  named.SetPrimaryGroup(token.primary_group());
  if (token.default_dacl()) named.SetDefaultDacl(*token.default_dacl());
  if (logon == acl::sids::LocalSystem()) return named;  // the kernel's privileges
  return WithPrivileges(named, privileges);
}

}  // namespace

std::optional<LocalAccountRef> FindLocalAccount(const MachinePolicy& policy,
                                                std::string_view text) {
  if (!policy.sam) return std::nullopt;
  if (auto sid = Sid::Parse(text)) {
    for (const auto& u : policy.sam->users) {
      if (u.sid == *sid) return LocalAccountRef{u.sid, u.name, true};
    }
    for (const auto& a : policy.sam->aliases) {
      if (a.sid == *sid) return LocalAccountRef{a.sid, a.name, false};
    }
    return std::nullopt;
  }
  const auto [domain, name] = SplitDomain(text);
  if (IsWellKnownDomain(domain) || name.empty()) return std::nullopt;
  const bool builtin_only = text::EqualsIgnoreAsciiCase(domain, "BUILTIN");
  if (!builtin_only) {
    for (const auto& u : policy.sam->users) {
      if (text::EqualsIgnoreAsciiCase(u.name, name)) return LocalAccountRef{u.sid, u.name, true};
    }
  }
  for (const auto& a : policy.sam->aliases) {
    if ((a.builtin || !builtin_only) && text::EqualsIgnoreAsciiCase(a.name, name)) {
      return LocalAccountRef{a.sid, a.name, false};
    }
  }
  return std::nullopt;
}

Result<Sid> ResolvePrincipal(const MachinePolicy* policy, std::string_view text) {
  if (policy != nullptr) {
    if (auto local = FindLocalAccount(*policy, text)) return local->sid;
  }
  auto resolved = acl::ResolveName(text);
  if (!resolved) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("'{}' is no local account or group of this machine and no "
                             "well-known name: {}",
                             text, resolved.error().message()));
  }
  return resolved->sid;
}

std::string MachineDisplayName(const MachinePolicy* policy, const Sid& sid) {
  if (policy != nullptr && policy->sam) {
    for (const auto& a : policy->sam->aliases) {
      if (a.sid == sid) return a.builtin ? "BUILTIN\\" + a.name : a.name;
    }
    for (const auto& u : policy->sam->users) {
      if (u.sid == sid) return u.name;
    }
  }
  // A service SID (S-1-5-80-<SHA-1 of the upper-cased name>): named after the machine's service;
  // an application-pool SID (S-1-5-82-<SHA-1 of the lower-cased name>) after its IIS pool.
  const auto subs = sid.sub_authorities();
  if (policy != nullptr && policy->iis && sid.authority() == 5 && subs.size() == 6 &&
      subs[0] == 82) {
    for (const auto& pool : policy->iis->pools) {
      if (acl::AppPoolSid(pool.name) == sid) return "IIS APPPOOL\\" + pool.name;
    }
  }
  if (policy != nullptr && policy->system && sid.authority() == 5 && subs.size() == 6 &&
      subs[0] == 80) {
    for (const auto& service : policy->system->services) {
      if (acl::ServiceSid(service.name) == sid) return "NT SERVICE\\" + service.name;
    }
  }
  return acl::DisplayName(sid);
}

Result<Token> ServiceTokenFor(const MachinePolicy& policy,
                              const std::vector<acl::PrivilegeAssignment>& privileges,
                              std::string_view service_name) {
  if (!policy.system) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("service:{} needs the machine's SYSTEM hive ({}), and this root has "
                             "none",
                             service_name, HiveRelativePath(HiveKind::kSystem).generic_string()));
  }
  const ServiceConfig* service = policy.system->Find(service_name);
  if (service == nullptr) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("the SYSTEM hive has no service '{}' under {}\\Services", service_name,
                             policy.system->current_control_set));
  }
  MKEYS_ASSIGN_OR_RETURN(const Sid logon,
                         ServiceLogonSid(*service, policy.sam ? &*policy.sam : nullptr));
  Token token = ServiceBaseToken(logon, policy, privileges);
  const std::uint32_t sid_type = service->sid_type.value_or(0);
  if (sid_type == static_cast<std::uint32_t>(ServiceSidType::kUnrestricted) ||
      sid_type == static_cast<std::uint32_t>(ServiceSidType::kRestricted)) {
    const Sid service_sid = acl::ServiceSid(service->name);
    if (!HasGroup(token, service_sid) && token.user() != service_sid) {
      token.AddGroup({service_sid, false});
    }
  }
  for (const Sid& sid : {acl::sids::Service(), acl::sids::AuthenticatedUsers(), acl::sids::Users(),
                         acl::sids::Everyone()}) {
    if (!HasGroup(token, sid)) token.AddGroup({sid, false});
  }
  AddAliasGroups(token, policy);
  Token named(token.user(), token.groups(), token.privileges(),
              fmt::format("{} (service {})", MachineDisplayName(&policy, logon), service->name));
  named.SetDefaultOwner(token.default_owner());
  named.SetPrimaryGroup(token.primary_group());
  if (token.default_dacl()) named.SetDefaultDacl(*token.default_dacl());
  if (logon == acl::sids::LocalSystem()) return FilterSystemPrivileges(named, *service);
  return WithPrivileges(named, privileges, service);
}

Result<Token> MachineTokenFor(const MachinePolicy* policy,
                              const std::vector<acl::PrivilegeAssignment>& privileges,
                              std::string_view identity) {
  // An identity described by --token FILE (a domain account the machine cannot know).
  if (auto file = FindRegisteredTokenFile(identity)) {
    return TokenFromFile(*file, policy, privileges);
  }
  if (identity.substr(0, kServicePrefix.size()) == kServicePrefix) {
    const std::string_view name = identity.substr(kServicePrefix.size());
    if (policy == nullptr) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("'{}': no machine policy to read services from", identity));
    }
    return ServiceTokenFor(*policy, privileges, name);
  }
  if (const auto pool_name = AppPoolName(identity); pool_name && policy != nullptr) {
    if (policy->iis_error) return *policy->iis_error;
    if (policy->iis) {
      const AppPool* pool = policy->iis->Find(*pool_name);
      if (pool == nullptr) {
        std::string known;
        for (const auto& p : policy->iis->pools) known += (known.empty() ? "" : ", ") + p.name;
        return Error(ErrorCode::kNotFound,
                     fmt::format("{} has no application pool '{}' (it has: {})",
                                 policy->iis->source, *pool_name, known.empty() ? "none" : known));
      }
      if (pool->identity_type != AppPoolIdentityType::kApplicationPoolIdentity) {
        return AccountAppPoolToken(*policy, privileges, *pool);
      }
    }
  }
  if (policy != nullptr) {
    // The catalogue's own keys ("administrator", "user") keep their meaning when bare.
    constexpr std::string_view kCatalogueKeys[] = {"administrator", "administrator-elevated",
                                                   "admin",         "administrator-filtered",
                                                   "user",          "standard-user"};
    const bool catalogue_key =
        std::any_of(std::begin(kCatalogueKeys), std::end(kCatalogueKeys),
                    [&](std::string_view n) { return text::EqualsIgnoreAsciiCase(n, identity); });
    if (!catalogue_key) {
      if (auto local = FindLocalAccount(*policy, identity); local && local->is_user) {
        return WithPrivileges(LocalUserToken(*policy, *local), privileges);
      }
    }
  }
  MKEYS_ASSIGN_OR_RETURN(Token token, acl::TokenFor(identity, &privileges));
  if (policy == nullptr || !AddAliasGroups(token, *policy)) return token;
  if (token.user() == acl::sids::LocalSystem()) return token;
  return WithPrivileges(token, privileges);
}

}  // namespace mkeys::keystore
