// SPDX-License-Identifier: GPL-3.0-or-later
// Token files (--token FILE): the strict parser says where a file is wrong, and the token holds
// what the file says plus what the machine adds.
#include <catch2/catch.hpp>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/token_file.hpp"

using namespace mkeys;
using keystore::ParseTokenFile;

namespace {

constexpr const char* kUser = "S-1-5-21-3623811015-3361044348-30300820-1105";
constexpr const char* kDomainUsers = "S-1-5-21-3623811015-3361044348-30300820-513";

std::string ErrorOf(std::string_view text) {
  auto parsed = ParseTokenFile(text);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code() == ErrorCode::kParse);
  CHECK(parsed.error().ToExitCode() == kExitInput);
  return parsed.error().ToString();
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("token file: a domain account with names SIDs groups and privileges", "[token-file]") {
  const std::string text = std::string(R"({"user": {"name": "CONTOSO\\svc-web", "sid": ")") +
                           kUser + R"("}, "groups": [")" + kDomainUsers +
                           R"(", "BUILTIN\\Users", {"sid": "S-1-5-32-544", "deny_only": true}],
      "privileges": ["SeChangeNotifyPrivilege", {"name": "SeBackup", "enabled": false}],
      "logon": "service"})";
  auto file = ParseTokenFile(text);
  REQUIRE(file.ok());
  CHECK(file->user.sid.ToString() == kUser);
  CHECK(file->user.name == "CONTOSO\\svc-web");
  REQUIRE(file->groups.size() == 3);
  CHECK(file->groups[1].sid == acl::sids::Users());
  CHECK(file->groups[2].deny_only);
  CHECK(file->Keys() == std::vector<std::string>{"CONTOSO\\svc-web", kUser});

  const auto token = keystore::TokenFromFile(*file, nullptr, {});
  CHECK(token.display_name() == "CONTOSO\\svc-web");
  CHECK(token.MatchesForAllow(acl::sids::Users()));
  CHECK(token.MatchesForAllow(acl::sids::Service()));  // logon: service
  CHECK(token.MatchesForAllow(acl::sids::Everyone()));
  CHECK_FALSE(token.MatchesForAllow(acl::sids::Administrators()));  // deny-only
  CHECK(token.MatchesForDeny(acl::sids::Administrators()));
  CHECK(token.HasPrivilege("SeChangeNotifyPrivilege"));
  CHECK_FALSE(token.HasPrivilege("SeBackupPrivilege"));  // present, disabled
}

TEST_CASE("token file: without privileges the assignment decides", "[token-file]") {
  auto file = ParseTokenFile(std::string(R"({"user": ")") + kUser + R"(", "logon": "network"})");
  REQUIRE(file.ok());
  CHECK_FALSE(file->privileges.has_value());
  const auto token = keystore::TokenFromFile(*file, nullptr, acl::DefaultPrivilegeAssignments());
  CHECK(token.HasPrivilege("SeChangeNotifyPrivilege"));  // Everyone holds it by default
  CHECK(token.MatchesForAllow(acl::sids::Network()));
  CHECK(token.display_name() == kUser);  // no name given, none known
}

TEST_CASE("token file: JSON syntax errors give the byte offset", "[token-file]") {
  auto parsed = ParseTokenFile(R"({"user": "S-1-5-20",, })");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code() == ErrorCode::kParse);
  REQUIRE(parsed.error().position().has_value());
  CHECK(*parsed.error().position() == 20);
  CHECK(Contains(parsed.error().ToString(), "at offset 20"));
}

TEST_CASE("token file: unknown keys name their JSON path", "[token-file]") {
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "group": []})"), "$: unknown key \"group\""));
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "groups": [{"sidd": "S-1-5-32-545"}]})"),
                 "$.groups[0]: unknown key \"sidd\""));
  CHECK(Contains(ErrorOf(R"({"user": {"sid": "S-1-5-20", "deny_only": true}})"),
                 "$.user: unknown key \"deny_only\""));
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "user": "S-1-5-19"})"),
                 "key \"user\" appears twice"));
}

TEST_CASE("token file: bad SIDs and unknown names say where", "[token-file]") {
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-21-x"})"), "$.user: 'S-1-5-21-x' is not a SID"));
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "groups": ["S-1-5-32-545", {"sid": "S-9"}]})"),
                 "$.groups[1].sid: 'S-9' is not a SID"));
  CHECK(Contains(ErrorOf(R"({"user": "CONTOSO\\nobody"})"),
                 "$.user: 'CONTOSO\\nobody' is no "
                 "account of this machine"));
  // A well-known name with another SID than the file's.
  CHECK(Contains(ErrorOf(R"({"user": {"name": "NETWORK SERVICE", "sid": "S-1-5-19"}})"),
                 "is S-1-5-20 on this machine, not S-1-5-19"));
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "groups": ["S-1-5-20"]})"),
                 "$.groups[0]: S-1-5-20 is the token's user"));
  CHECK(Contains(ErrorOf(R"({"groups": []})"), "\"user\""));
  CHECK(Contains(ErrorOf(R"(["S-1-5-20"])"), "$: expected an object"));
  CHECK(Contains(ErrorOf(R"({"user": 20})"), "$.user: expected a SID"));
}

TEST_CASE("token file: unknown privilege names are errors listing the valid ones", "[token-file]") {
  const auto error = ErrorOf(R"({"user": "S-1-5-20", "privileges": ["SeChangeNotifyPriviledge"]})");
  CHECK(Contains(error, "$.privileges[0]: unknown privilege 'SeChangeNotifyPriviledge'"));
  CHECK(Contains(error, "SeChangeNotifyPrivilege"));  // in the list of valid names
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "privileges": [{"name": "SeBackup", "on": 1}]})"),
                 "$.privileges[0]: unknown key \"on\""));
  CHECK(Contains(ErrorOf(R"({"user": "S-1-5-20", "logon": "remote"})"),
                 "$.logon: unknown logon 'remote'"));
}
