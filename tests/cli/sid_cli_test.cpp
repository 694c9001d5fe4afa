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
