// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/sid.hpp"

using namespace mkeys::acl;

TEST_CASE("NT SERVICE SIDs are derived from the upper-cased name", "[acl][sid]") {
  CHECK(ServiceSid("TrustedInstaller").ToString() ==
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464");
  CHECK(ServiceSid("trustedinstaller") == ServiceSid("TRUSTEDINSTALLER"));
}

TEST_CASE("IIS APPPOOL SIDs are derived from the lower-cased name", "[acl][sid]") {
  CHECK(AppPoolSid("DefaultAppPool") == AppPoolSid("defaultapppool"));
  CHECK(AppPoolSid("DefaultAppPool").ToString().rfind("S-1-5-82-", 0) == 0);
  CHECK(AppPoolSid("DefaultAppPool") != ServiceSid("DefaultAppPool"));
}

TEST_CASE("SIDs round-trip through their binary form", "[acl][sid]") {
  const Sid ns = sids::NetworkService();
  const auto bytes = ns.ToBytes();
  REQUIRE(bytes.size() == 12);
  CHECK(bytes[0] == 1);
  CHECK(bytes[1] == 1);
  CHECK(bytes[7] == 5);
  CHECK(bytes[8] == 20);
  auto back = Sid::Decode(bytes);
  REQUIRE(back);
  CHECK(*back == ns);
  CHECK(back->ToString() == "S-1-5-20");
}

TEST_CASE("Binary SIDs are checked against the bytes available", "[acl][sid]") {
  auto bytes = sids::Administrators().ToBytes();
  bytes.pop_back();
  auto r = Sid::Decode(bytes);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("needs 16 bytes") != std::string::npos);
  std::vector<std::uint8_t> too_many = {1, 16, 0, 0, 0, 0, 0, 5};
  CHECK_FALSE(Sid::Decode(too_many));
}
