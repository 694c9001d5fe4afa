// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

using mkeys::test::Mkeys;

TEST_CASE("sid resolve prints SID, full name and alias per name", "[cli][sid]") {
  auto r = Mkeys({"sid", "resolve", "NT SERVICE\\TrustedInstaller", "NetworkService",
                  "BUILTIN\\Administrators"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464\tNT "
        "SERVICE\\TrustedInstaller\t-\n"
        "S-1-5-20\tNT AUTHORITY\\NETWORK SERVICE\tNS\n"
        "S-1-5-32-544\tBUILTIN\\Administrators\tBA\n");
}

TEST_CASE("sid resolve fails with exit 3 naming the unknown name", "[cli][sid]") {
  auto r = Mkeys({"sid", "resolve", "Everyone", "NoSuchUser"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("NoSuchUser") != std::string::npos);
}

TEST_CASE("sid resolve --json gives an array of objects", "[cli][sid]") {
  auto r = Mkeys({"--json", "sid", "resolve", "ns", "S-1-1-0"});
  CHECK(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out);
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["sid"] == "S-1-5-20");
  CHECK(doc[0]["name"] == "NT AUTHORITY\\NETWORK SERVICE");
  CHECK(doc[0]["alias"] == "NS");
  CHECK(doc[1]["name"] == "Everyone");
}

TEST_CASE("sid resolve answers every name and reports each unknown one", "[cli][sid]") {
  auto r = Mkeys({"sid", "resolve", "Everyone", "NoSuchUser", "NS", "CONTOSO\\nobody", "S-1-5-18"});
  CHECK(r.exit_code == 3);  // some were unknown
  // The known names still resolve, one line each, in order.
  CHECK(r.out ==
        "S-1-1-0\tEveryone\tWD\n"
        "S-1-5-20\tNT AUTHORITY\\NETWORK SERVICE\tNS\n"
        "S-1-5-18\tNT AUTHORITY\\SYSTEM\tSY\n");
  // One error per unknown name, naming it.
  CHECK(r.err.find("mkeys: NoSuchUser: ") != std::string::npos);
  CHECK(r.err.find("mkeys: CONTOSO\\nobody: ") != std::string::npos);
}

TEST_CASE("sid resolve --json gives an answer or an error for each name", "[cli][sid]") {
  auto r = Mkeys({"--json", "sid", "resolve", "NS", "NoSuchUser", "BUILTIN\\Users"});
  CHECK(r.exit_code == 3);
  const auto doc = nlohmann::json::parse(r.out);  // one document, errors included
  REQUIRE(doc.size() == 3);
  CHECK(doc[0]["name"] == "NT AUTHORITY\\NETWORK SERVICE");
  CHECK(doc[0]["sid"] == "S-1-5-20");
  CHECK_FALSE(doc[0].contains("error"));
  CHECK(doc[1]["input"] == "NoSuchUser");
  CHECK(doc[1]["sid"].is_null());
  CHECK(doc[1]["error"]["exit_code"] == 3);
  CHECK(doc[1]["error"]["object"] == "NoSuchUser");
  CHECK(doc[2]["sid"] == "S-1-5-32-545");
  // All known: exit 0.
  CHECK(Mkeys({"--json", "sid", "resolve", "NS", "SY"}).exit_code == 0);
}
