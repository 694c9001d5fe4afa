// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/hex.hpp"

using namespace mkeys::acl;

namespace {
std::vector<std::uint8_t> Bytes(const char* sddl) {
  auto sd = ParseSddl(sddl);
  REQUIRE(sd);
  return sd->Encode();
}
}  // namespace

TEST_CASE("Descriptors are laid out as Windows does: SACL, DACL, owner, group", "[acl][sd]") {
  const auto bytes = Bytes("O:BAG:SYD:(A;;FA;;;WD)S:(AU;SA;FA;;;WD)");
  auto sd = SecurityDescriptor::Decode(bytes);
  REQUIRE(sd);
  auto u32 = [&](std::size_t at) {
    return bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | bytes[at + 3] << 24;
  };
  CHECK(u32(12) == 20);          // SACL right after the header
  CHECK(u32(16) > u32(12));      // then the DACL
  CHECK(u32(4) > u32(16));       // then the owner
  CHECK(u32(8) == u32(4) + 16);  // then the group (BA is 16 bytes)
  CHECK(bytes[2] == 0x14);       // DACL and SACL present
  CHECK(bytes[3] == 0x80);       // self-relative
}

TEST_CASE("Decoding checks every offset and length", "[acl][sd]") {
  const auto good = Bytes("O:BAG:SYD:(A;;FA;;;WD)");
  REQUIRE(SecurityDescriptor::Decode(good));
  // Every truncation fails cleanly, never over-reads.
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto r = SecurityDescriptor::Decode(std::span(good.data(), n));
    INFO(n);
    CHECK_FALSE(r);
  }
  auto bad_offset = good;
  bad_offset[4] = 8;  // owner offset inside the header
  auto r = SecurityDescriptor::Decode(bad_offset);
  REQUIRE_FALSE(r);
  CHECK(*r.error().position() == 4);
  auto bad_acl = good;
  bad_acl[20 + 2] = 0xff;  // AclSize past the end
  r = SecurityDescriptor::Decode(bad_acl);
  REQUIRE_FALSE(r);
  CHECK(*r.error().position() == 22);
  auto bad_rev = good;
  bad_rev[0] = 2;
  CHECK_FALSE(SecurityDescriptor::Decode(bad_rev));
}

TEST_CASE("Every byte flip either decodes or fails - nothing crashes", "[acl][sd]") {
  const auto good = Bytes(
      "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ED)S:(AU;SA;FA;;;"
      "WD)");
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t v : {std::uint8_t{0}, std::uint8_t{0xff}, std::uint8_t{0x7f}}) {
      auto copy = good;
      copy[i] = v;
      auto r = SecurityDescriptor::Decode(copy);
      if (r) (void)FormatSddl(*r);
    }
  }
  SUCCEED("no crash");
}

TEST_CASE("ACL slack and revision round-trip", "[acl][sd]") {
  // Windows wrote AclSize 4 bytes past its ACEs and revision 4 (conformance: oversize ACLs).
  auto bytes = mkeys::HexDecode(
      "01000490000000000000000000000000140000000400380002000000010014000000000001010000000000"
      "100021000001001400000000000101000000000010002100000000000000000000");
  REQUIRE(bytes);
  auto sd = SecurityDescriptor::Decode(*bytes);
  REQUIRE(sd);
  REQUIRE(sd->dacl);
  CHECK(sd->dacl->slack == 8);
  CHECK(sd->dacl->revision == 4);
  CHECK(sd->dacl->aces.size() == 2);
  CHECK(sd->Encode() == *bytes);
}

TEST_CASE("NULL and empty DACLs are distinct", "[acl][sd]") {
  auto null_dacl = ParseSddl("D:NO_ACCESS_CONTROL");
  REQUIRE(null_dacl);
  CHECK(null_dacl->HasNullDacl());
  CHECK(FormatSddl(*null_dacl) == "D:NO_ACCESS_CONTROL");
  auto back = SecurityDescriptor::Decode(null_dacl->Encode());
  REQUIRE(back);
  CHECK(back->HasNullDacl());
  auto empty = ParseSddl("D:");
  REQUIRE(empty);
  CHECK_FALSE(empty->HasNullDacl());
  CHECK(empty->dacl->aces.empty());
}

TEST_CASE("Canonical order: explicit deny, explicit allow, inherited", "[acl][sd]") {
  auto sd = ParseSddl("D:(A;;FA;;;SY)(D;;FA;;;WD)(A;ID;FR;;;BU)(D;ID;FW;;;BU)");
  REQUIRE(sd);
  CHECK(FirstNonCanonicalAce(*sd->dacl) == 1u);
  const Acl fixed = Canonicalize(*sd->dacl);
  CHECK_FALSE(FirstNonCanonicalAce(fixed));
  SecurityDescriptor out;
  out.SetDacl(fixed);
  CHECK(FormatSddl(out) == "D:(D;;FA;;;WD)(A;;FA;;;SY)(A;ID;FR;;;BU)(D;ID;FW;;;BU)");
}

TEST_CASE("Object ACEs keep their GUIDs in the binary form", "[acl][sd]") {
  auto g = Guid::Parse("1131F6AA-9c07-11d1-f79f-00c04fc2dcd2");
  REQUIRE(g);
  CHECK(g->bytes[0] == 0xaa);
  CHECK(g->bytes[3] == 0x11);
  CHECK(g->ToString() == "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2");
  CHECK_FALSE(Guid::Parse("{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}"));
  auto bad = Guid::Parse("1131f6aa-9c07-11d1-f79f-00c04fc2dcdz");
  REQUIRE_FALSE(bad);
  CHECK(*bad.error().position() == 35);
  auto sd = ParseSddl("D:(OA;CI;RP;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;AU)");
  REQUIRE(sd);
  CHECK(sd->dacl->revision == 4);
  auto back = SecurityDescriptor::Decode(sd->Encode());
  REQUIRE(back);
  CHECK(back->dacl->aces[0].object_type == *g);
  CHECK_FALSE(back->dacl->aces[0].inherited_object_type);
}

TEST_CASE("Callback ACE bytes are kept opaque and round-trip", "[acl][sd]") {
  Ace ace = AllowAce(sids::Everyone(), 0x1f01ff);
  ace.type = AceType::kAccessAllowedCallback;
  ace.application_data = {'a', 'r', 't', 'x', 0x01, 0x02, 0, 0};
  SecurityDescriptor sd;
  Acl acl;
  acl.aces.push_back(ace);
  sd.SetDacl(acl);
  const auto bytes = sd.Encode();
  auto back = SecurityDescriptor::Decode(bytes);
  REQUIRE(back);
  CHECK(back->dacl->aces[0] == ace);
  CHECK(back->Encode() == bytes);
}
