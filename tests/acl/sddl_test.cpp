// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/core/hex.hpp"

using namespace mkeys::acl;

namespace {
std::string Canon(const std::string& text, const SddlOptions& o = {}) {
  auto sd = ParseSddl(text, o);
  if (!sd) return "error@" + std::to_string(sd.error().position().value_or(999));
  return FormatSddl(*sd, o);
}
}  // namespace

TEST_CASE("SDDL encodes Everyone full control (D:A..FA...WD) to Windows' bytes", "[acl][sddl]") {
  auto sd = ParseSddl("D:(A;;FA;;;WD)");
  REQUIRE(sd);
  CHECK(mkeys::HexEncode(sd->Encode()) ==
        "010004800000000000000000000000001400000002001c000100000000001400ff011f0001010000000000"
        "0100000000");
}

TEST_CASE("SDDL rights are written as Windows writes them", "[acl][sddl]") {
  CHECK(FormatSddlRights(0x1f01ff) == "FA");
  CHECK(FormatSddlRights(0x120089) == "FR");
  CHECK(FormatSddlRights(0x120116) == "FW");
  CHECK(FormatSddlRights(0x1200a0) == "FX");
  CHECK(FormatSddlRights(0x10000000) == "GA");
  CHECK(FormatSddlRights(0xf003f) == "CCDCLCSWRPWPSDRCWDWO");  // KA: every bit has a letter
  CHECK(FormatSddlRights(0x1200a9) == "0x1200a9");
  CHECK(FormatSddlRights(0) == "");
  CHECK(*ParseSddlRights("FA") == 0x1f01ff);
  CHECK(*ParseSddlRights("ga") == 0x10000000);
  CHECK(*ParseSddlRights("RP WP") == 0x30);
  CHECK(*ParseSddlRights("0x1F01FF") == 0x1f01ff);
  CHECK(*ParseSddlRights("-99") == 0xffffff9d);
  CHECK(*ParseSddlRights("0x123456789") == 0xffffffff);
  CHECK_FALSE(ParseSddlRights("GA "));
  CHECK_FALSE(ParseSddlRights("QQ"));
}

TEST_CASE("SDDL is normalised to Windows' canonical form", "[acl][sddl]") {
  CHECK(Canon("  O:BA G:SY  D:P (a;oici;fa;;;sy)") == "O:BAG:SYD:P(A;OICI;FA;;;SY)");
  CHECK(Canon("D:(A;;GA;;; S-1-3-4)") == "D:(A;;GA;;;OW)");
  CHECK(Canon("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)") ==
        "D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)");
  CHECK(Canon("S:(ML;;NW;;;LW)") == "S:(ML;;NW;;;LW)");
  CHECK(Canon("D:PAI(A;OICIIO;FA;;;CO)S:ARAI") == "D:PAI(A;OICIIO;FA;;;CO)S:ARAI");
}

TEST_CASE("SDDL errors carry the offset", "[acl][sddl]") {
  CHECK(Canon("D:(A;;GA;;;XX)") == "error@11");
  CHECK(Canon("D:(A;;QQ;;;WD)") == "error@6");
  CHECK(Canon("D:(A;;GA;;;WD") == "error@2");
  CHECK(Canon("D:(AU;SA;GA;;;WD)") == "error@3");  // audit ACE in a DACL
  CHECK(Canon("X:") == "error@0");
  CHECK(Canon("D:(A;;GA;;;WD)D:") == "error@14");
  auto r = ParseSddl("D:(A;;GA;;;DA)");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("domain") != std::string::npos);
}

TEST_CASE("Domain-relative aliases expand with the domain SID and format back", "[acl][sddl]") {
  SddlOptions o;
  o.domain_sid = *Sid::Parse("S-1-5-21-1-2-3");
  auto sd = ParseSddl("O:DAD:(A;;FA;;;LA)", o);
  REQUIRE(sd);
  CHECK(sd->owner->ToString() == "S-1-5-21-1-2-3-512");
  CHECK(FormatSddl(*sd, o) == "O:DAD:(A;;FA;;;LA)");
  CHECK(FormatSddl(*sd) == "O:S-1-5-21-1-2-3-512D:(A;;FA;;;S-1-5-21-1-2-3-500)");
  CHECK(FormatAceSddl(sd->dacl->aces[0]) == "(A;;FA;;;S-1-5-21-1-2-3-500)");
  CHECK(FormatSddlSid(sids::NetworkService()) == "NS");
}

TEST_CASE("SDDL parser survives arbitrary input", "[acl][sddl]") {
  const std::string seed =
      "O:BAG:SYD:PAI(A;OICI;0x1200a9;;;S-1-5-21-1-2-3)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;"
      ";ED)S:(AU;SA;FA;;;WD)";
  std::size_t accepted = 0;
  for (std::size_t i = 0; i <= seed.size(); ++i) {
    // Every prefix, and every single-character mutation.
    if (ParseSddl(seed.substr(0, i))) ++accepted;
    if (i < seed.size()) {
      for (char c : {'(', ')', ';', '-', ' ', 'x', '\0', '\xff'}) {
        std::string m = seed;
        m[i] = c;
        auto r = ParseSddl(m);
        if (r) (void)FormatSddl(*r);
      }
    }
  }
  CHECK(ParseSddl(seed));
  CHECK(accepted > 0);
}

TEST_CASE("Conditional ACEs compile to artx bytes and format back", "[acl][sddl]") {
  auto sd = ParseSddl("D:(XA;;FA;;;WD;(@User.Title == \"PM\"))");
  REQUIRE(sd);
  const Ace& ace = sd->dacl->aces[0];
  CHECK(ace.type == AceType::kAccessAllowedCallback);
  // "artx", user attribute "Title", string "PM", ==, padding.
  CHECK(mkeys::HexEncode(ace.application_data) ==
        "61727478f90a0000005400690074006c006500100400000050004d0080000000");
  CHECK(FormatSddl(*sd) == "D:(XA;;FA;;;WD;(@User.Title == \"PM\"))");
  CHECK(Canon("D:(XA;;FR;;;WD;(a == 1 && !(@Device.b >= -0x10) || Exists c))") ==
        "D:(XA;;FR;;;WD;(((a == 1) && (!(@Device.b >= -0x10))) || (Exists c)))");
  CHECK(Canon("D:(XA;;FR;;;WD;(Member_of {SID(BA), SID(S-1-5-32-545)}))") ==
        "D:(XA;;FR;;;WD;(Member_of {SID(BA), SID(BU)}))");
  auto back = SecurityDescriptor::Decode(sd->Encode());
  REQUIRE(back);
  CHECK(*back == *sd);
  CHECK(Canon("D:(A;;FA;;;WD;(x == 1))") == "error@14");
  CHECK(Canon("D:(XA;;FA;;;WD)") == "error@3");
  CHECK(Canon("D:(XA;;FA;;;WD;(x == ))") == "error@21");
}
