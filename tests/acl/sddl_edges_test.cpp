// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 17, class 4: SDDL and SID-string edges where Windows' own results decide.
#include <catch2/catch.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid.hpp"

using namespace mkeys::acl;

// Issue 17 (Windows-run ConvertStringSecurityDescriptorToSecurityDescriptorW): a rights field
// may mix a number and letters in either order; Windows reads it left to right, wcstoul for a
// number, and ORs the parts.
TEST_CASE("SDDL rights may mix a hex number and letters", "[acl][sddl][conformance-extra]") {
  CHECK(ParseSddlRights("GR0xFFFFFFFF").value() == 0xFFFFFFFFu);
  CHECK(ParseSddlRights("0xFFFFFGR").value() == 0x800FFFFFu);
  auto sd = ParseSddl("D:(A;;0x10GA;;;WD)");
  REQUIRE(sd);
  // 0x10 | GA: every bit has a letter, so Windows writes letters (RP, GA).
  CHECK(FormatSddl(*sd) == "D:(A;;RPGA;;;WD)");
  CHECK_FALSE(ParseSddlRights("GRxx"));
}

// Issue 17 (Windows-run): "D:(D ;;GA;;;WD)" is rejected — no blank after the ACE type — while
// blanks before the type are accepted (tests/data/windows-sddl/windows_is_less_fussy.txt).
TEST_CASE("SDDL rejects a blank after the ACE type", "[acl][sddl][conformance-extra]") {
  auto bad = ParseSddl("D:(D ;;GA;;;WD)");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().position() == 4u);
  CHECK(ParseSddl("D:( D;;GA;;;WD)"));
}

// Wine's advapi32 tests, which run on Windows (dlls/advapi32/tests/security.c, test_sid):
// ConvertStringSidToSidA("S-1-5") fails with ERROR_INVALID_SID ("expected failure with no sub
// authorities"); "S-1-5-21-93476-23408-4576" gives 4 sub-authorities.
TEST_CASE("A SID string needs a sub-authority", "[acl][sid][conformance-extra]") {
  CHECK_FALSE(Sid::Parse("S-1-5"));
  CHECK_FALSE(ParseSddl("O:S-1-5"));
  auto sid = Sid::Parse("S-1-5-21-93476-23408-4576");
  REQUIRE(sid);
  CHECK(sid->sub_authority_count() == 4);
  CHECK(sid->sub_authorities()[3] == 4576u);
}
