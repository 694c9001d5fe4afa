// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

using mkeys::test::Mkeys;

namespace {
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("access check: no ACE grants NETWORK SERVICE read -> exit 1 and says so",
          "[cli][access]") {
  auto r = Mkeys({"access", "check", "--sd", "O:SYG:SYD:P(A;;FA;;;SY)", "--as",
                  "NT AUTHORITY\\NETWORK SERVICE", "--want", "R"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.out, "DENIED"));
  CHECK(Contains(r.out,
                 "NETWORK SERVICE lacks READ_DATA, READ_EA, READ_ATTRIBUTES, READ_CONTROL, "
                 "SYNCHRONIZE (no ACE grants them; owner SYSTEM)"));
}

TEST_CASE(
    "access check: with NETWORK SERVICE read (A..FR...NS) appended -> exit 0 and names that ACE",
    "[cli][access]") {
  auto r = Mkeys({"access", "check", "--sd", "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)", "--as",
                  "NT AUTHORITY\\NETWORK SERVICE", "--want", "R"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "GRANTED"));
  CHECK(Contains(r.out, "by ACE #1 (A;;FR;;;NS)"));
  CHECK(Contains(r.out, "granted:  0x120089"));
}

TEST_CASE("access check --json gives the verdict, mask and reasons as data", "[cli][access]") {
  auto r = Mkeys({"--json", "access", "check", "--sd", "O:SYG:SYD:(D;;0x1;;;NS)(A;;FA;;;NS)",
                  "--as", "NetworkService", "--want", "RD,WDAC"});
  CHECK(r.exit_code == 1);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["allowed"] == false);
  CHECK(doc["want"]["mask"] == "0x40001");
  CHECK(doc["missing"]["names"] == nlohmann::json::array({"READ_DATA"}));
  CHECK(doc["granted"]["mask"] == "0x1f01fe");
  REQUIRE(doc["reasons"].size() == 2);
  CHECK(doc["reasons"][0]["kind"] == "denied-by-ace");
  CHECK(doc["reasons"][0]["ace_index"] == 0);
  CHECK(doc["reasons"][0]["ace_sddl"] == "(D;;CC;;;NS)");
  CHECK(doc["reasons"][1]["kind"] == "granted-by-ace");
  CHECK(doc["reasons"][1]["ace_index"] == 1);
}

TEST_CASE("access check --privilege enables a privilege for the check", "[cli][access]") {
  const std::string sd = "O:SYG:SYD:P(A;;FA;;;SY)";
  auto without = Mkeys({"access", "check", "--sd", sd, "--as", "administrator", "--want", "R"});
  CHECK(without.exit_code == 1);
  auto with = Mkeys({"access", "check", "--sd", sd, "--as", "administrator", "--want", "R",
                     "--privilege", "SeBackupPrivilege"});
  CHECK(with.exit_code == 0);
  CHECK(Contains(with.out, "by SeBackupPrivilege"));
  auto bad = Mkeys(
      {"access", "check", "--sd", sd, "--as", "administrator", "--privilege", "SeFlyPrivilege"});
  CHECK(bad.exit_code == 2);
  CHECK(Contains(bad.err, "SeFlyPrivilege"));
}

TEST_CASE("access check: bad SDDL and unknown identities are input errors (exit 3)",
          "[cli][access]") {
  auto bad_sd = Mkeys({"access", "check", "--sd", "O:SYG:SYD:(A;;FA;;;SY", "--as", "SYSTEM"});
  CHECK(bad_sd.exit_code == 3);
  CHECK(Contains(bad_sd.err, "--sd"));
  auto unknown = Mkeys({"access", "check", "--sd", "O:SYG:SYD:(A;;FA;;;SY)", "--as", "Nobody"});
  CHECK(unknown.exit_code == 3);
  CHECK(Contains(unknown.err, "Nobody"));
  auto bad_want = Mkeys(
      {"access", "check", "--sd", "O:SYG:SYD:(A;;FA;;;SY)", "--as", "SYSTEM", "--want", "RD,QQ"});
  CHECK(bad_want.exit_code == 2);
  CHECK(Contains(bad_want.err, "QQ"));
}

TEST_CASE("access check --want takes a hex mask", "[cli][access]") {
  auto r = Mkeys(
      {"access", "check", "--sd", "O:SYG:SYD:(A;;FA;;;SY)", "--as", "SYSTEM", "--want", "0x40000"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "WRITE_DAC"));
}

TEST_CASE("sddl icacls prints the DACL as icacls does", "[cli][sddl][icacls]") {
  auto r = Mkeys({"sddl", "icacls", "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "Everyone:(R,W)\nBUILTIN\\Administrators:(F)\n");
  auto bad = Mkeys({"sddl", "icacls", "D:(A;;FA;;;"});
  CHECK(bad.exit_code == 3);
}

TEST_CASE("sddl inherit prints the new object's descriptor", "[cli][sddl][inherit]") {
  const std::string parent = "O:SYG:SYD:AI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)";
  auto file = Mkeys({"sddl", "inherit", "--parent", parent, "--as", "NETWORK SERVICE"});
  CHECK(file.exit_code == 0);
  CHECK(file.out == "O:NSG:NSD:AI(A;ID;FA;;;NS)(A;ID;FA;;;SY)\n");
  auto dir =
      Mkeys({"sddl", "inherit", "--parent", parent, "--as", "NETWORK SERVICE", "--directory"});
  CHECK(dir.out == "O:NSG:NSD:AI(A;ID;FA;;;NS)(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)\n");
  auto explicit_sd = Mkeys(
      {"sddl", "inherit", "--parent", parent, "--as", "SYSTEM", "--explicit", "D:P(A;;FR;;;NS)"});
  // A file-system create takes an explicit DACL as given, without the auto-inherited mark.
  CHECK(explicit_sd.out == "O:SYG:SYD:P(A;;FR;;;NS)\n");
  auto unknown = Mkeys({"sddl", "inherit", "--parent", parent, "--as", "Nobody"});
  CHECK(unknown.exit_code == 3);
}

// Issue 17, class 7. SDK, AccessCheck: the descriptor must have an owner and a group, else
// ERROR_INVALID_SECURITY_DESCR (1338) - an error, not a verdict.
TEST_CASE("access check: a descriptor without owner or group is an error not a denial",
          "[cli][access]") {
  auto r = Mkeys({"access", "check", "--sd", "D:(A;;FA;;;WD)", "--as", "SYSTEM", "--want", "R"});
  CHECK(r.exit_code == 3);
  CHECK(Contains(r.err, "ERROR_INVALID_SECURITY_DESCR"));
  auto no_group =
      Mkeys({"access", "check", "--sd", "O:SYD:(A;;FA;;;WD)", "--as", "SYSTEM", "--want", "R"});
  CHECK(no_group.exit_code == 3);
  CHECK(Contains(no_group.err, "group"));
}

// The I/O manager maps generic rights before AccessCheck (SDK, "File Security and Access
// Rights"); AccessCheck itself wants them mapped (MapGenericMask) and fails with
// ERROR_GENERIC_NOT_MAPPED (1360) otherwise.
TEST_CASE("access check: generic rights in --want are mapped and said so", "[cli][access]") {
  const char* sd = "O:SYG:SYD:(A;;FA;;;SY)";
  auto mapped = Mkeys({"access", "check", "--sd", sd, "--as", "SYSTEM", "--want", "0x80000000"});
  CHECK(mapped.exit_code == 0);
  CHECK(Contains(mapped.out, "wanted:   0x120089"));
  CHECK(Contains(mapped.out, "mapped to file rights"));
  auto unmapped = Mkeys({"access", "check", "--sd", sd, "--as", "SYSTEM", "--want", "0x80000000",
                         "--no-map-generic"});
  CHECK(unmapped.exit_code == 3);
  CHECK(Contains(unmapped.err, "ERROR_GENERIC_NOT_MAPPED"));
  auto plain =
      Mkeys({"access", "check", "--sd", sd, "--as", "SYSTEM", "--want", "R", "--no-map-generic"});
  CHECK(plain.exit_code == 0);
  CHECK_FALSE(Contains(plain.out, "mapped to file rights"));
}
