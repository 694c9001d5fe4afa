// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/acl/token.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "mkeys/acl/sid_names.hpp"

namespace mkeys::acl {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ASCII case-insensitive equality without copies: access checks ask HasPrivilege for several
// privileges each, so this runs for every privilege of the token on every check.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && std::tolower(static_cast<unsigned char>(a[i])) !=
                            std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Every privilege constant of winnt.h (Microsoft docs, "Privilege Constants (Authorization)").
constexpr std::array<std::string_view, 36> kKnownPrivileges = {
    "SeAssignPrimaryTokenPrivilege",
    "SeAuditPrivilege",
    "SeBackupPrivilege",
    "SeChangeNotifyPrivilege",
    "SeCreateGlobalPrivilege",
    "SeCreatePagefilePrivilege",
    "SeCreatePermanentPrivilege",
    "SeCreateSymbolicLinkPrivilege",
    "SeCreateTokenPrivilege",
    "SeDebugPrivilege",
    "SeDelegateSessionUserImpersonatePrivilege",
    "SeEnableDelegationPrivilege",
    "SeImpersonatePrivilege",
    "SeIncreaseBasePriorityPrivilege",
    "SeIncreaseQuotaPrivilege",
    "SeIncreaseWorkingSetPrivilege",
    "SeLoadDriverPrivilege",
    "SeLockMemoryPrivilege",
    "SeMachineAccountPrivilege",
    "SeManageVolumePrivilege",
    "SeProfileSingleProcessPrivilege",
    "SeRelabelPrivilege",
    "SeRemoteShutdownPrivilege",
    "SeRestorePrivilege",
    "SeSecurityPrivilege",
    "SeShutdownPrivilege",
    "SeSyncAgentPrivilege",
    "SeSystemEnvironmentPrivilege",
    "SeSystemProfilePrivilege",
    "SeSystemtimePrivilege",
    "SeTakeOwnershipPrivilege",
    "SeTcbPrivilege",
    "SeTimeZonePrivilege",
    "SeTrustedCredManAccessPrivilege",
    "SeUndockPrivilege",
    "SeUnsolicitedInputPrivilege",
};

// The local machine's account domain used for the catalogue's local accounts (the built-in
// Administrator, RID 500, and a standard user, RID 1001). A fixed example domain (the one
// Microsoft's "Well-known SIDs" page uses); what matters for access checks is that these
// SIDs are nobody else's. Override the identities from JSON to model a real machine.
const Sid& ModelMachineDomain() {
  static const Sid kDomain = Sid::Of(5, {21, 1004336348, 1177238915, 682003330});
  return kDomain;
}
Sid LocalAccount(std::uint32_t rid) {
  const auto subs = ModelMachineDomain().sub_authorities();
  std::vector<std::uint32_t> all(subs.begin(), subs.end());
  all.push_back(rid);
  return Sid::Create(5, all).value();
}

TokenPrivilege Priv(std::string_view name, bool enabled) {
  return {std::string(name), enabled};
}

std::vector<TokenGroup> Groups(std::initializer_list<Sid> sids) {
  std::vector<TokenGroup> out;
  for (const auto& sid : sids) out.push_back({sid, false});
  return out;
}

// ---------------------------------------------------------------------------------------------
// The catalogue. Groups are listed in the order `whoami /groups` prints them; integrity labels
// (Mandatory Label\...) and the per-logon SID are left out: they never match a file DACL's
// allow or deny ACEs (labels are SE_GROUP_INTEGRITY, the logon SID is different every logon).
// Privilege states are those `whoami /priv` prints; only enabled ones count in an access check.
// ---------------------------------------------------------------------------------------------

// LocalSystem. Sources: `whoami /all` as NT AUTHORITY\SYSTEM (psexec -s, Windows 7 to
// Server 2019, e.g. the outputs in HTB "Jerry" and "Blue" write-ups): groups
// BUILTIN\Administrators (Enabled, Group owner), Everyone, Authenticated Users; privileges as
// below. SeBackup, SeRestore, SeTakeOwnership and SeSecurity are present but DISABLED: a SYSTEM
// process gets their effect only after AdjustTokenPrivileges (backup tools, takeown, the CSP do
// that). The kernel builds this token itself (SeMakeSystemToken), so machine policy does not remove
// its privileges; TokenFor with machine privileges keeps these.
Token SystemToken() {
  std::vector<TokenPrivilege> privileges = {
      Priv("SeCreateTokenPrivilege", false),
      Priv("SeAssignPrimaryTokenPrivilege", false),
      Priv("SeLockMemoryPrivilege", true),
      Priv("SeIncreaseQuotaPrivilege", false),
      Priv("SeTcbPrivilege", true),
      Priv("SeSecurityPrivilege", false),
      Priv("SeTakeOwnershipPrivilege", false),
      Priv("SeLoadDriverPrivilege", false),
      Priv("SeSystemProfilePrivilege", true),
      Priv("SeSystemtimePrivilege", false),
      Priv("SeProfileSingleProcessPrivilege", true),
      Priv("SeIncreaseBasePriorityPrivilege", true),
      Priv("SeCreatePagefilePrivilege", true),
      Priv("SeCreatePermanentPrivilege", true),
      Priv("SeBackupPrivilege", false),
      Priv("SeRestorePrivilege", false),
      Priv("SeShutdownPrivilege", false),
      Priv("SeDebugPrivilege", true),
      Priv("SeAuditPrivilege", true),
      Priv("SeSystemEnvironmentPrivilege", false),
      Priv("SeChangeNotifyPrivilege", true),
      Priv("SeUndockPrivilege", false),
      Priv("SeManageVolumePrivilege", false),
      Priv("SeImpersonatePrivilege", true),
      Priv("SeCreateGlobalPrivilege", true),
      Priv("SeIncreaseWorkingSetPrivilege", true),
      Priv("SeTimeZonePrivilege", true),
      Priv("SeCreateSymbolicLinkPrivilege", true),
      Priv("SeDelegateSessionUserImpersonatePrivilege", true),
  };
  Token token(sids::LocalSystem(),
              Groups({sids::Administrators(), sids::Everyone(), sids::AuthenticatedUsers()}),
              std::move(privileges), "NT AUTHORITY\\SYSTEM");
  // Files a SYSTEM process creates are owned by SYSTEM with primary group SYSTEM (O:SYG:SY):
  // the service's token keeps TokenOwner = its user (docs/identities.md says why).
  // TokenDefaultDacl of the system token as the kernel builds it (SeMakeSystemToken;
  // NtObjectManager / `Get-NtToken` dumps of a SYSTEM service token show
  // D:(A;;GA;;;SY)(A;;GRGXRC;;;BA)): GENERIC_ALL to SYSTEM, read/execute/READ_CONTROL to
  // Administrators.
  Acl default_dacl;
  default_dacl.aces.push_back(AllowAce(sids::LocalSystem(), rights::kGenericAll));
  default_dacl.aces.push_back(AllowAce(sids::Administrators(), rights::kGenericRead |
                                                                   rights::kGenericExecute |
                                                                   rights::kReadControl));
  token.SetDefaultDacl(std::move(default_dacl));
  return token;
}

// The groups every service logon gets: `whoami /groups` for NETWORK SERVICE, LOCAL SERVICE,
// virtual accounts and application-pool identities on Windows Server 2012 R2 .. 2022 (for
// example the IIS APPPOOL\DefaultAppPool outputs in the HTB "Job", "Hutch" and THM write-ups):
// Everyone, BUILTIN\Users, NT AUTHORITY\SERVICE, CONSOLE LOGON, Authenticated Users,
// This Organization, LOCAL. (Windows Server 2003 tokens lacked CONSOLE LOGON and had
// Performance Log Users; we model current Windows.)
std::vector<TokenGroup> ServiceLogonGroups() {
  return Groups({sids::Everyone(), sids::Users(), sids::Service(), sids::ConsoleLogon(),
                 sids::AuthenticatedUsers(), sids::ThisOrganization(), sids::Local()});
}

// NETWORK SERVICE and application pools: `whoami /priv` shows SeAssignPrimaryToken,
// SeIncreaseQuota, SeAudit (disabled), SeChangeNotify, SeImpersonate, SeCreateGlobal
// (enabled), SeIncreaseWorkingSet (disabled; held through BUILTIN\Users). These are exactly the
// default user-rights assignments of NETWORK SERVICE, SERVICE and Users (see
// DefaultPrivilegeAssignments below).
std::vector<TokenPrivilege> NetworkServicePrivileges() {
  return {Priv("SeAssignPrimaryTokenPrivilege", false),
          Priv("SeIncreaseQuotaPrivilege", false),
          Priv("SeAuditPrivilege", false),
          Priv("SeChangeNotifyPrivilege", true),
          Priv("SeImpersonatePrivilege", true),
          Priv("SeCreateGlobalPrivilege", true),
          Priv("SeIncreaseWorkingSetPrivilege", false)};
}

Token NetworkServiceToken() {
  return Token(sids::NetworkService(), ServiceLogonGroups(), NetworkServicePrivileges(),
               "NT AUTHORITY\\NETWORK SERVICE");
}

// LOCAL SERVICE additionally holds SeSystemtime, SeShutdown (workstations), SeUndock and
// SeTimeZone by default ("Change the system time", "Change the time zone" policy pages list
// LOCAL SERVICE); `whoami /priv` as LOCAL SERVICE shows them disabled.
Token LocalServiceToken() {
  return Token(sids::LocalService(), ServiceLogonGroups(),
               {Priv("SeAssignPrimaryTokenPrivilege", false),
                Priv("SeIncreaseQuotaPrivilege", false), Priv("SeSystemtimePrivilege", false),
                Priv("SeShutdownPrivilege", false), Priv("SeAuditPrivilege", false),
                Priv("SeChangeNotifyPrivilege", true), Priv("SeUndockPrivilege", false),
                Priv("SeImpersonatePrivilege", true), Priv("SeCreateGlobalPrivilege", true),
                Priv("SeIncreaseWorkingSetPrivilege", false), Priv("SeTimeZonePrivilege", false)},
               "NT AUTHORITY\\LOCAL SERVICE");
}

// Interactive local logons (Microsoft docs "Access tokens"; `whoami /groups` of a local
// account on Windows 10/Server 2019): Everyone, [Local account and member of Administrators],
// [Administrators], Users, INTERACTIVE, CONSOLE LOGON, Authenticated Users, This Organization,
// Local account, LOCAL, NTLM Authentication.
std::vector<TokenGroup> InteractiveGroups(bool admin, bool filtered) {
  std::vector<TokenGroup> groups;
  groups.push_back({sids::Everyone(), false});
  if (admin) {
    // UAC's filtered token keeps these two SIDs as SE_GROUP_USE_FOR_DENY_ONLY
    // (Microsoft docs "How User Account Control works": "the administrator's full access token
    // ... the Administrators group is marked deny-only").
    groups.push_back({sids::LocalAccountAndAdmin(), filtered});
    groups.push_back({sids::Administrators(), filtered});
  }
  for (const Sid& sid :
       {sids::Users(), sids::Interactive(), sids::ConsoleLogon(), sids::AuthenticatedUsers(),
        sids::ThisOrganization(), sids::LocalAccount(), sids::Local(), Sid::Of(5, {64, 10})}) {
    groups.push_back({sid, false});
  }
  return groups;
}

// An elevated administrator: `whoami /priv` in an elevated prompt shows 24 privileges, all
// disabled except SeChangeNotify, SeImpersonate and SeCreateGlobal. Default owner
// BUILTIN\Administrators (objects created elevated are owned by Administrators).
Token ElevatedAdministratorToken() {
  std::vector<TokenPrivilege> privileges;
  for (std::string_view name : {"SeIncreaseQuotaPrivilege",
                                "SeSecurityPrivilege",
                                "SeTakeOwnershipPrivilege",
                                "SeLoadDriverPrivilege",
                                "SeSystemProfilePrivilege",
                                "SeSystemtimePrivilege",
                                "SeProfileSingleProcessPrivilege",
                                "SeIncreaseBasePriorityPrivilege",
                                "SeCreatePagefilePrivilege",
                                "SeBackupPrivilege",
                                "SeRestorePrivilege",
                                "SeShutdownPrivilege",
                                "SeDebugPrivilege",
                                "SeSystemEnvironmentPrivilege",
                                "SeChangeNotifyPrivilege",
                                "SeRemoteShutdownPrivilege",
                                "SeUndockPrivilege",
                                "SeManageVolumePrivilege",
                                "SeImpersonatePrivilege",
                                "SeCreateGlobalPrivilege",
                                "SeIncreaseWorkingSetPrivilege",
                                "SeTimeZonePrivilege",
                                "SeCreateSymbolicLinkPrivilege",
                                "SeDelegateSessionUserImpersonatePrivilege"}) {
    privileges.push_back(Priv(name, PrivilegeEnabledByDefault(name)));
  }
  Token token(LocalAccount(500), InteractiveGroups(true, false), std::move(privileges),
              "Administrator (elevated)");
  token.SetDefaultOwner(sids::Administrators());
  token.SetPrimaryGroup(LocalAccount(513));
  return token;
}

// The privileges UAC leaves in a filtered token and a standard user has: `whoami /priv` shows
// SeShutdown, SeChangeNotify (enabled), SeUndock, SeIncreaseWorkingSet, SeTimeZone.
std::vector<TokenPrivilege> StandardUserPrivileges() {
  return {Priv("SeShutdownPrivilege", false), Priv("SeChangeNotifyPrivilege", true),
          Priv("SeUndockPrivilege", false), Priv("SeIncreaseWorkingSetPrivilege", false),
          Priv("SeTimeZonePrivilege", false)};
}

Token FilteredAdministratorToken() {
  Token token(LocalAccount(500), InteractiveGroups(true, true), StandardUserPrivileges(),
              "Administrator (UAC-filtered)");
  token.SetPrimaryGroup(LocalAccount(513));
  return token;
}

Token StandardUserToken() {
  Token token(LocalAccount(1001), InteractiveGroups(false, false), StandardUserPrivileges(),
              "User (standard)");
  token.SetPrimaryGroup(LocalAccount(513));
  return token;
}

// A service configured to log on as `NT SERVICE\<name>` (a virtual account, Microsoft docs
// "Service Accounts": virtual accounts): the token's user is the service SID S-1-5-80-<hash>;
// its groups are those of any service logon plus NT SERVICE\ALL SERVICES (S-1-5-80-0, which
// holds "Log on as a service"). Its privileges come only from those groups' default
// assignments: SeChangeNotify (Everyone/Users), SeImpersonate and SeCreateGlobal (SERVICE),
// SeIncreaseWorkingSet (Users).
// Note: a service running as LocalSystem / NETWORK SERVICE / LOCAL SERVICE with a service SID
// also carries NT SERVICE\<name>, but as a group; model that by adding the group to those
// tokens (Token::AddGroup) or with a JSON override.
Token VirtualAccountToken(const SidName& name) {
  std::vector<TokenGroup> groups = ServiceLogonGroups();
  groups.push_back({sids::AllServices(), false});
  return Token(
      name.sid, std::move(groups),
      {Priv("SeChangeNotifyPrivilege", true), Priv("SeImpersonatePrivilege", true),
       Priv("SeCreateGlobalPrivilege", true), Priv("SeIncreaseWorkingSetPrivilege", false)},
      name.FullName());
}

// IIS application-pool identity `IIS APPPOOL\<pool>` (ApplicationPoolIdentity): `whoami /all`
// inside w3wp (HTB "Job", "Hutch", "Granny"-style write-ups on Server 2016/2019): user
// S-1-5-82-<hash>, groups Everyone, Users, SERVICE, CONSOLE LOGON, Authenticated Users, This
// Organization, BUILTIN\IIS_IUSRS, LOCAL; privileges as NETWORK SERVICE.
Token AppPoolToken(const SidName& name) {
  std::vector<TokenGroup> groups = ServiceLogonGroups();
  groups.insert(groups.end() - 1, TokenGroup{sids::IisUsers(), false});
  return Token(name.sid, std::move(groups), NetworkServicePrivileges(), name.FullName());
}

// -------------------------------------------------------------------------------------------
// Overrides from JSON.
// -------------------------------------------------------------------------------------------

struct OverrideStore {
  std::mutex mutex;
  std::map<std::string, Token> by_name;  // lower-cased name
  std::map<std::string, Token> by_sid;   // SID string, when the name resolves
};
OverrideStore& Overrides() {
  static OverrideStore store;
  return store;
}

std::optional<Token> FindOverride(std::string_view identity, const std::optional<Sid>& sid) {
  auto& store = Overrides();
  std::lock_guard<std::mutex> lock(store.mutex);
  if (auto it = store.by_name.find(Lower(identity)); it != store.by_name.end()) return it->second;
  if (sid) {
    if (auto it = store.by_sid.find(sid->ToString()); it != store.by_sid.end()) return it->second;
  }
  return std::nullopt;
}

Result<Sid> SidFromJson(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) {
    return Error(ErrorCode::kParse, where + ": expected a SID or account name string");
  }
  const std::string text = value.get<std::string>();
  auto resolved = ResolveName(text);
  if (!resolved) {
    return Error(ErrorCode::kParse, where + ": " + resolved.error().message());
  }
  return resolved->sid;
}

Result<Token> TokenFromJson(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) return Error(ErrorCode::kParse, where + ": expected an object");
  if (!entry.contains("name") || !entry["name"].is_string()) {
    return Error(ErrorCode::kParse, where + ": \"name\" (a string) is required");
  }
  if (!entry.contains("user")) {
    return Error(ErrorCode::kParse, where + ": \"user\" (a SID or name) is required");
  }
  MKEYS_ASSIGN_OR_RETURN(Sid user, SidFromJson(entry["user"], where + ".user"));
  std::vector<TokenGroup> groups;
  if (entry.contains("groups")) {
    const auto& list = entry["groups"];
    if (!list.is_array()) return Error(ErrorCode::kParse, where + ".groups: expected an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = where + ".groups[" + std::to_string(i) + "]";
      const auto& g = list[i];
      if (g.is_string()) {
        MKEYS_ASSIGN_OR_RETURN(Sid sid, SidFromJson(g, at));
        groups.push_back({sid, false});
        continue;
      }
      if (!g.is_object() || !g.contains("sid")) {
        return Error(ErrorCode::kParse, at + ": expected {\"sid\": ..., \"deny_only\": bool}");
      }
      MKEYS_ASSIGN_OR_RETURN(Sid sid, SidFromJson(g["sid"], at + ".sid"));
      bool deny_only = false;
      if (g.contains("deny_only")) {
        if (!g["deny_only"].is_boolean()) {
          return Error(ErrorCode::kParse, at + ".deny_only: expected true or false");
        }
        deny_only = g["deny_only"].get<bool>();
      }
      groups.push_back({sid, deny_only});
    }
  }
  std::vector<TokenPrivilege> privileges;
  if (entry.contains("privileges")) {
    const auto& list = entry["privileges"];
    if (!list.is_array()) {
      return Error(ErrorCode::kParse, where + ".privileges: expected an array");
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = where + ".privileges[" + std::to_string(i) + "]";
      const auto& p = list[i];
      std::string name;
      bool enabled = true;
      if (p.is_string()) {
        name = p.get<std::string>();
      } else if (p.is_object() && p.contains("name") && p["name"].is_string()) {
        name = p["name"].get<std::string>();
        if (p.contains("enabled")) {
          if (!p["enabled"].is_boolean()) {
            return Error(ErrorCode::kParse, at + ".enabled: expected true or false");
          }
          enabled = p["enabled"].get<bool>();
        }
      } else {
        return Error(ErrorCode::kParse,
                     at + ": expected \"SeXxxPrivilege\" or {\"name\": ..., \"enabled\": bool}");
      }
      auto canonical = CanonicalPrivilegeName(name);
      if (!canonical) return Error(ErrorCode::kParse, at + ": unknown privilege '" + name + "'");
      privileges.push_back({*canonical, enabled});
    }
  }
  std::string display = entry["name"].get<std::string>();
  if (entry.contains("display_name") && entry["display_name"].is_string()) {
    display = entry["display_name"].get<std::string>();
  }
  Token token(user, std::move(groups), std::move(privileges), display);
  if (entry.contains("owner")) {
    MKEYS_ASSIGN_OR_RETURN(Sid owner, SidFromJson(entry["owner"], where + ".owner"));
    token.SetDefaultOwner(owner);
  }
  if (entry.contains("primary_group")) {
    MKEYS_ASSIGN_OR_RETURN(Sid group,
                           SidFromJson(entry["primary_group"], where + ".primary_group"));
    token.SetPrimaryGroup(group);
  }
  return token;
}

// Applies a machine's user-rights assignment to `token`: the privileges held by the user or any
// group that is not deny-only (a deny-only group confers nothing, Microsoft docs "Restricted
// tokens"), enabled when Windows enables them by default.
Token WithMachinePrivileges(Token token, const std::vector<PrivilegeAssignment>& assignments) {
  std::vector<TokenPrivilege> privileges;
  for (const auto& assignment : assignments) {
    bool held = false;
    for (const auto& holder : assignment.holders) {
      if (token.MatchesForAllow(holder)) {
        held = true;
        break;
      }
    }
    if (!held) continue;
    const bool duplicate =
        std::any_of(privileges.begin(), privileges.end(),
                    [&](const TokenPrivilege& p) { return p.name == assignment.privilege; });
    if (!duplicate) {
      privileges.push_back({assignment.privilege, PrivilegeEnabledByDefault(assignment.privilege)});
    }
  }
  Token out(token.user(), token.groups(), std::move(privileges), token.display_name());
  if (token.default_owner() != token.user()) out.SetDefaultOwner(token.default_owner());
  if (token.primary_group() != token.user()) out.SetPrimaryGroup(token.primary_group());
  if (token.default_dacl()) out.SetDefaultDacl(*token.default_dacl());
  return out;
}

Result<Token> BuiltinToken(std::string_view identity) {
  const std::string key = Lower(identity);
  if (key == "administrator" || key == "administrator-elevated" || key == "admin") {
    return ElevatedAdministratorToken();
  }
  if (key == "administrator-filtered") return FilteredAdministratorToken();
  if (key == "user" || key == "standard-user") return StandardUserToken();

  auto resolved = ResolveName(identity);
  if (!resolved) {
    return Error(ErrorCode::kNotFound,
                 "unknown identity '" + std::string(identity) + "': " + resolved.error().message() +
                     " (catalogue: SYSTEM, LOCAL SERVICE, NETWORK SERVICE, administrator, "
                     "administrator-filtered, user, NT SERVICE\\<name>, IIS APPPOOL\\<name>)");
  }
  const SidName& name = *resolved;
  if (auto override_token = FindOverride(identity, name.sid)) return *override_token;
  if (name.sid == sids::LocalSystem()) return SystemToken();
  if (name.sid == sids::LocalService()) return LocalServiceToken();
  if (name.sid == sids::NetworkService()) return NetworkServiceToken();
  const auto subs = name.sid.sub_authorities();
  if (name.sid.authority() == 5 && subs.size() == 6 && subs[0] == 80) {
    return VirtualAccountToken(name);
  }
  if (name.sid.authority() == 5 && subs.size() == 6 && subs[0] == 82) {
    return AppPoolToken(name);
  }
  return Error(ErrorCode::kNotFound,
               "'" + std::string(identity) + "' (" + name.sid.ToString() +
                   ") is not an identity a process runs as in the catalogue (SYSTEM, LOCAL "
                   "SERVICE, NETWORK SERVICE, administrator, administrator-filtered, user, "
                   "NT SERVICE\\<name>, IIS APPPOOL\\<name>); describe it with --token FILE");
}

}  // namespace

bool PrivilegeEnabledByDefault(std::string_view name) {
  // LSA grants these SE_PRIVILEGE_ENABLED_BY_DEFAULT; `whoami /priv` of any fresh token shows
  // them Enabled and every other assigned privilege Disabled.
  return EqualsIgnoreCase(name, privileges::kChangeNotify) ||
         EqualsIgnoreCase(name, privileges::kImpersonate) ||
         EqualsIgnoreCase(name, privileges::kCreateGlobal);
}

std::optional<std::string> CanonicalPrivilegeName(std::string_view name) {
  const std::string wanted = Lower(name);
  for (std::string_view known : kKnownPrivileges) {
    const std::string lower = Lower(known);
    if (lower == wanted) return std::string(known);
    // Without the "Privilege" suffix: "SeBackup".
    if (lower.size() > 9 && lower.compare(lower.size() - 9, 9, "privilege") == 0 &&
        lower.substr(0, lower.size() - 9) == wanted) {
      return std::string(known);
    }
  }
  return std::nullopt;
}

Result<Token> TokenFor(std::string_view identity,
                       const std::vector<PrivilegeAssignment>* machine_privileges) {
  std::optional<Token> token;
  if (auto override_token = FindOverride(identity, std::nullopt)) {
    token = *override_token;
  } else {
    MKEYS_ASSIGN_OR_RETURN(Token built, BuiltinToken(identity));
    token = std::move(built);
  }
  if (machine_privileges == nullptr) return *token;
  if (token->user() == sids::LocalSystem()) {
    // SYSTEM's privileges do not come from the user-rights assignment (see SystemToken).
    return *token;
  }
  return WithMachinePrivileges(std::move(*token), *machine_privileges);
}

Result<void> LoadTokenCatalogueOverrides(std::string_view json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return Error(ErrorCode::kParse, std::string("identity overrides: invalid JSON: ") + e.what())
        .At(e.byte > 0 ? e.byte - 1 : 0);
  } catch (const nlohmann::json::exception& e) {
    // out_of_range.406: a number beyond double's range ("1e999"); the message quotes it.
    return Error(ErrorCode::kParse, std::string("identity overrides: invalid JSON: ") + e.what());
  }
  if (!doc.is_array()) {
    return Error(ErrorCode::kParse, "identity overrides: expected a JSON array of identities");
  }
  std::vector<std::pair<std::string, Token>> parsed;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const std::string where = "identity overrides[" + std::to_string(i) + "]";
    MKEYS_ASSIGN_OR_RETURN(Token token, TokenFromJson(doc[i], where));
    parsed.emplace_back(doc[i]["name"].get<std::string>(), std::move(token));
  }
  auto& store = Overrides();
  std::lock_guard<std::mutex> lock(store.mutex);
  for (auto& [name, token] : parsed) {
    if (auto resolved = ResolveName(name)) {
      store.by_sid.insert_or_assign(resolved->sid.ToString(), token);
    }
    store.by_name.insert_or_assign(Lower(name), std::move(token));
  }
  return Ok();
}

void ClearTokenCatalogueOverrides() {
  auto& store = Overrides();
  std::lock_guard<std::mutex> lock(store.mutex);
  store.by_name.clear();
  store.by_sid.clear();
}

std::vector<std::string> TokenCatalogueNames() {
  return {"NT AUTHORITY\\SYSTEM", "NT AUTHORITY\\LOCAL SERVICE", "NT AUTHORITY\\NETWORK SERVICE",
          "administrator",        "administrator-filtered",      "user",
          "NT SERVICE\\<name>",   "IIS APPPOOL\\<name>"};
}

}  // namespace mkeys::acl
