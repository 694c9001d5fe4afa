// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <algorithm>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/acl/token.hpp"

using namespace mkeys::acl;

namespace {

bool HasGroup(const Token& token, const Sid& sid, bool deny_only = false) {
  return std::any_of(token.groups().begin(), token.groups().end(),
                     [&](const TokenGroup& g) { return g.sid == sid && g.deny_only == deny_only; });
}

bool HasPresent(const Token& token, std::string_view name) {
  return std::any_of(token.privileges().begin(), token.privileges().end(),
                     [&](const TokenPrivilege& p) { return p.name == name; });
}

}  // namespace

TEST_CASE("NETWORK SERVICE's token has the service logon groups and privileges", "[acl][token]") {
  for (const char* name : {"NT AUTHORITY\\NETWORK SERVICE", "NETWORK SERVICE", "NS", "S-1-5-20"}) {
    auto token = TokenFor(name);
    REQUIRE(token);
    CHECK(token->user() == sids::NetworkService());
    CHECK(HasGroup(*token, sids::Users()));
    CHECK(HasGroup(*token, sids::Service()));
    CHECK(HasGroup(*token, sids::AuthenticatedUsers()));
    CHECK(HasGroup(*token, sids::Everyone()));
    CHECK_FALSE(HasGroup(*token, sids::Administrators()));
    CHECK(token->HasPrivilege(privileges::kChangeNotify));
    CHECK(token->HasPrivilege(privileges::kImpersonate));
    CHECK_FALSE(token->HasPrivilege(privileges::kAssignPrimaryToken));  // present, disabled
    CHECK(HasPresent(*token, privileges::kAssignPrimaryToken));
    CHECK_FALSE(HasPresent(*token, privileges::kBackup));
  }
}

TEST_CASE("SYSTEM holds backup, restore, take-ownership and security privileges disabled",
          "[acl][token]") {
  auto token = TokenFor("SYSTEM");
  REQUIRE(token);
  CHECK(token->user() == sids::LocalSystem());
  CHECK(HasGroup(*token, sids::Administrators()));
  for (auto name : {privileges::kBackup, privileges::kRestore, privileges::kTakeOwnership,
                    privileges::kSecurity}) {
    CHECK(HasPresent(*token, name));
    CHECK_FALSE(token->HasPrivilege(name));
  }
  CHECK(token->HasPrivilege(privileges::kChangeNotify));
  token->EnablePrivilege(privileges::kBackup);
  CHECK(token->HasPrivilege(privileges::kBackup));
}

TEST_CASE("A UAC-filtered administrator has Administrators for deny only", "[acl][token]") {
  auto filtered = TokenFor("administrator-filtered");
  auto elevated = TokenFor("administrator");
  REQUIRE(filtered);
  REQUIRE(elevated);
  CHECK(filtered->user() == elevated->user());
  CHECK(HasGroup(*filtered, sids::Administrators(), true));
  CHECK_FALSE(filtered->MatchesForAllow(sids::Administrators()));
  CHECK(filtered->MatchesForDeny(sids::Administrators()));
  CHECK(elevated->MatchesForAllow(sids::Administrators()));
  CHECK(HasPresent(*elevated, privileges::kTakeOwnership));
  CHECK_FALSE(HasPresent(*filtered, privileges::kTakeOwnership));
  CHECK(elevated->default_owner() == sids::Administrators());
  auto user = TokenFor("user");
  REQUIRE(user);
  CHECK_FALSE(user->MatchesForDeny(sids::Administrators()));
  CHECK(user->MatchesForAllow(sids::Users()));
}

TEST_CASE("NT SERVICE and IIS APPPOOL identities are built for any name", "[acl][token]") {
  auto svc = TokenFor("NT SERVICE\\fwsrv");
  REQUIRE(svc);
  CHECK(svc->user() == ServiceSid("fwsrv"));
  CHECK(HasGroup(*svc, sids::Service()));
  CHECK(HasGroup(*svc, sids::AllServices()));
  auto pool = TokenFor("IIS APPPOOL\\DefaultAppPool");
  REQUIRE(pool);
  CHECK(pool->user() == AppPoolSid("DefaultAppPool"));
  CHECK(HasGroup(*pool, sids::IisUsers()));
  CHECK(pool->HasPrivilege(privileges::kChangeNotify));
}

TEST_CASE("Unknown identities and groups are errors that say so", "[acl][token]") {
  auto unknown = TokenFor("NoSuchAccount");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().find("NoSuchAccount") != std::string::npos);
  auto group = TokenFor("BUILTIN\\Users");
  REQUIRE_FALSE(group);
  CHECK(group.error().message().find("S-1-5-32-545") != std::string::npos);
}

TEST_CASE("Machine privileges: held by the user or an enabled group, deny-only confers none",
          "[acl][token]") {
  const auto defaults = DefaultPrivilegeAssignments();
  auto ns = TokenFor("NETWORK SERVICE", &defaults);
  REQUIRE(ns);
  CHECK(ns->HasPrivilege(privileges::kChangeNotify));
  CHECK(HasPresent(*ns, privileges::kAuditPrivilege));
  CHECK_FALSE(HasPresent(*ns, privileges::kBackup));

  auto admin = TokenFor("administrator", &defaults);
  REQUIRE(admin);
  CHECK(HasPresent(*admin, privileges::kBackup));
  CHECK_FALSE(admin->HasPrivilege(privileges::kBackup));  // present, not enabled by default
  auto filtered = TokenFor("administrator-filtered", &defaults);
  REQUIRE(filtered);
  CHECK_FALSE(HasPresent(*filtered, privileges::kBackup));

  // A hardened image that gives "Bypass traverse checking" to Administrators only.
  std::vector<PrivilegeAssignment> hardened = {
      {std::string(privileges::kChangeNotify), {sids::Administrators()}}};
  auto hardened_ns = TokenFor("NETWORK SERVICE", &hardened);
  REQUIRE(hardened_ns);
  CHECK_FALSE(hardened_ns->HasPrivilege(privileges::kChangeNotify));
  // SYSTEM's privileges come from the kernel, not from the assignment.
  auto system = TokenFor("SYSTEM", &hardened);
  REQUIRE(system);
  CHECK(system->HasPrivilege(privileges::kChangeNotify));
}

TEST_CASE("The catalogue can be overridden from JSON", "[acl][token][json]") {
  ClearTokenCatalogueOverrides();
  auto loaded = LoadTokenCatalogueOverrides(R"([
    {"name": "NETWORK SERVICE", "user": "S-1-5-20",
     "groups": ["Everyone", {"sid": "BUILTIN\\Administrators", "deny_only": true}],
     "privileges": ["SeChangeNotifyPrivilege", {"name": "SeBackup", "enabled": false}]},
    {"name": "svc-app", "user": "NT SERVICE\\app", "groups": ["S-1-5-6"], "privileges": []}
  ])");
  REQUIRE(loaded);
  auto ns = TokenFor("NT AUTHORITY\\NETWORK SERVICE");
  REQUIRE(ns);
  CHECK(ns->groups().size() == 2);
  CHECK(HasGroup(*ns, sids::Administrators(), true));
  CHECK_FALSE(HasGroup(*ns, sids::Users()));
  CHECK(HasPresent(*ns, "SeBackupPrivilege"));
  CHECK_FALSE(ns->HasPrivilege(privileges::kBackup));
  auto app = TokenFor("SVC-APP");
  REQUIRE(app);
  CHECK(app->user() == ServiceSid("app"));
  ClearTokenCatalogueOverrides();
  auto back = TokenFor("NETWORK SERVICE");
  REQUIRE(back);
  CHECK(HasGroup(*back, sids::Users()));
}

TEST_CASE("Bad override JSON is rejected with where it went wrong", "[acl][token][json]") {
  ClearTokenCatalogueOverrides();
  auto syntax = LoadTokenCatalogueOverrides("[{\"name\": \"x\",, }]");
  REQUIRE_FALSE(syntax);
  REQUIRE(syntax.error().position());
  CHECK(*syntax.error().position() == 14);  // the second comma
  auto privilege = LoadTokenCatalogueOverrides(
      R"([{"name": "x", "user": "S-1-5-20", "privileges": ["SeFlyPrivilege"]}])");
  REQUIRE_FALSE(privilege);
  CHECK(privilege.error().message().find("privileges[0]") != std::string::npos);
  auto user = LoadTokenCatalogueOverrides(R"([{"name": "x", "user": "nobody-at-all"}])");
  REQUIRE_FALSE(user);
  CHECK(user.error().message().find(".user") != std::string::npos);
  CHECK_FALSE(LoadTokenCatalogueOverrides(R"({"name": "x"})"));
  // Nothing of a failed load is kept.
  CHECK_FALSE(TokenFor("x"));
}

TEST_CASE("Privilege names are validated and canonicalised", "[acl][token]") {
  CHECK(CanonicalPrivilegeName("sebackupprivilege") == std::string("SeBackupPrivilege"));
  CHECK(CanonicalPrivilegeName("SeChangeNotify") == std::string("SeChangeNotifyPrivilege"));
  CHECK_FALSE(CanonicalPrivilegeName("SeFly"));
  CHECK(PrivilegeEnabledByDefault("SeChangeNotifyPrivilege"));
  CHECK_FALSE(PrivilegeEnabledByDefault("SeBackupPrivilege"));
}
