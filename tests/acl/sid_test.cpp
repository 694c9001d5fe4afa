// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"

using namespace mkeys::acl;

TEST_CASE("SID strings parse as Windows reads them", "[acl][sid]") {
  CHECK(Sid::Parse("S-1-5-20")->ToString() == "S-1-5-20");
  CHECK(Sid::Parse("s-1-5-32-544")->ToString() == "S-1-5-32-544");
  // Blanks before a number are skipped.
  CHECK(Sid::Parse("S- 1- 2-3")->ToString() == "S-1-2-3");
  // A hex revision makes every part hex.
  CHECK(Sid::Parse("S-0x1-20-0-579")->ToString() == "S-1-32-0-1401");
  // Overflowing sub-authorities saturate.
  CHECK(Sid::Parse("S-1-3-4294967296-3-4")->ToString() == "S-1-3-4294967295-3-4");
  CHECK(Sid::Parse("S-1-5-21-0x1313131313131-513")->ToString() == "S-1-5-21-4294967295-513");
  // 48-bit authorities are written in hex.
  CHECK(Sid::Parse("S-1-21474836480-32-579")->ToString() == "S-1-0x500000000-32-579");
  // "S-1-5" (no sub-authority) is rejected, as ConvertStringSidToSid rejects it (Wine's
  // advapi32 tests run on Windows; tests/acl/sddl_edges_test.cpp).
  CHECK_FALSE(Sid::Parse("S-1-5"));
}

TEST_CASE("Malformed SID strings are rejected with the offset", "[acl][sid]") {
  for (const char* bad :
       {"", "S", "S-", "S-1", "S-1-", "S-0", "S-2-5-20", "S-1-5-", "X-1-5-20", "S-1-5-20 ",
        "S-1-0x1313131313131-513", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"}) {
    auto r = Sid::Parse(bad);
    INFO(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().position().has_value());
  }
  auto r = Sid::Parse("S-1-5-2x");
  REQUIRE_FALSE(r);
  CHECK(*r.error().position() == 7);
}

TEST_CASE("Names administrators type resolve case-insensitively", "[acl][sid]") {
  const std::string ns = "S-1-5-20";
  for (const char* name : {"NT AUTHORITY\\NETWORK SERVICE", "network service", "NetworkService",
                           "NS", "ns", "S-1-5-20", "nt authority\\networkservice"}) {
    auto r = ResolveName(name);
    INFO(name);
    REQUIRE(r);
    CHECK(r->sid.ToString() == ns);
    CHECK(r->FullName() == "NT AUTHORITY\\NETWORK SERVICE");
    CHECK(r->alias == "NS");
  }
  CHECK(ResolveName("BUILTIN\\Administrators")->sid == sids::Administrators());
  CHECK(ResolveName("Everyone")->FullName() == "Everyone");
  CHECK(ResolveName("LocalSystem")->sid == sids::LocalSystem());
  CHECK(ResolveName("LocalService")->sid == sids::LocalService());
  CHECK(ResolveName("NT SERVICE\\TrustedInstaller")->sid.ToString() ==
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464");
  CHECK(ResolveName("NT SERVICE\\fwsrv")->sid == ServiceSid("fwsrv"));
  CHECK(ResolveName("NT SERVICE\\fwsrv")->FullName() == "NT SERVICE\\fwsrv");
  CHECK(ResolveName("IIS APPPOOL\\DefaultAppPool")->sid == AppPoolSid("DefaultAppPool"));
  // BUILTIN names do not resolve under another domain.
  CHECK_FALSE(ResolveName("NT AUTHORITY\\Administrators"));
}

TEST_CASE("Unknown names are an error that names them", "[acl][sid]") {
  auto r = ResolveName("NoSuchAccount");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("NoSuchAccount") != std::string::npos);
  CHECK_FALSE(ResolveName(""));
  CHECK_FALSE(ResolveName("DA"));  // domain-relative without a domain SID
}

TEST_CASE("Domain-relative aliases need the domain SID", "[acl][sid]") {
  const Sid domain = *Sid::Parse("S-1-5-21-1-2-3");
  CHECK_FALSE(SidFromAlias("DA"));
  CHECK(SidFromAlias("DA", domain)->ToString() == "S-1-5-21-1-2-3-512");
  CHECK(SidFromAlias("la", domain)->ToString() == "S-1-5-21-1-2-3-500");
  CHECK(SidFromAlias("RO", domain)->ToString() == "S-1-5-21-1-2-3-498");
  CHECK(AliasForSid(*Sid::Parse("S-1-5-21-1-2-3-513"), domain) == "DU");
  CHECK_FALSE(AliasForSid(*Sid::Parse("S-1-5-21-1-2-3-513")));
  CHECK(ResolveName("Domain Admins", domain)->sid.ToString() == "S-1-5-21-1-2-3-512");
}

TEST_CASE("Well-known SIDs have names and aliases", "[acl][sid]") {
  CHECK(DisplayName(sids::NetworkService()) == "NT AUTHORITY\\NETWORK SERVICE");
  CHECK(DisplayName(sids::Administrators()) == "BUILTIN\\Administrators");
  CHECK(DisplayName(sids::TrustedInstaller()) == "NT SERVICE\\TrustedInstaller");
  CHECK(DisplayName(*Sid::Parse("S-1-5-21-9-9-9-1000")) == "S-1-5-21-9-9-9-1000");
  CHECK(AliasForSid(sids::Everyone()) == "WD");
  CHECK(AliasForSid(sids::MediumIntegrity()) == "ME");
  CHECK(SidFromAlias("wd") == sids::Everyone());
  CHECK_FALSE(SidFromAlias("XX"));
  auto svc = LookupSid(ServiceSid("fwsrv"));
  REQUIRE(svc);
  CHECK(svc->domain == "NT SERVICE");
}
