// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 17, class 6: conditional ACEs (XA, XD, ZA, XU) as Windows parses and writes them. The
// expected bytes are typed in from Samba's Windows-recorded vectors
// (samba-team/samba libcli/security/tests/windows/conditional_aces.txt.json: the self-relative
// descriptor ConvertStringSecurityDescriptorToSecurityDescriptorW produced on Windows), and from
// MS-DTYP 2.4.4.17 where no recording exists (said so at the case).
#include <catch2/catch.hpp>

#include <string>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/hex.hpp"

using namespace mkeys::acl;

namespace {

std::vector<std::uint8_t> Bytes(const std::string& hex) {
  auto bytes = mkeys::HexDecode(hex);
  REQUIRE(bytes);
  return *bytes;
}

// SDDL -> exactly Windows' bytes; the bytes -> SDDL that parses back to the same bytes.
void CheckWindowsBytes(const std::string& sddl, const std::string& hex) {
  INFO(sddl);
  auto sd = ParseSddl(sddl);
  REQUIRE(sd);
  CHECK(mkeys::HexEncode(sd->Encode()) == hex);
  auto decoded = SecurityDescriptor::Decode(Bytes(hex));
  REQUIRE(decoded);
  const std::string formatted = FormatSddl(*decoded);
  INFO(formatted);
  auto again = ParseSddl(formatted);
  REQUIRE(again);
  CHECK(mkeys::HexEncode(again->Encode()) == hex);
}

}  // namespace

TEST_CASE("Member_of with a parenthesised or bare SID operand compiles as Windows does",
          "[acl][sddl][conditional]") {
  // Both forms give the bare SID token 0x51 (no composite), then Member_of 0x89.
  const std::string hex =
      "0100048048000000000000000000000014000000020034000100000009002c00ff01000001010000000000010000"
      "0000"
      "61727478510c000000010100000000000100000000890000010100000000000100000000";
  CheckWindowsBytes("O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of(SID(S-1-1-0))))", hex);
  CheckWindowsBytes("O:S-1-1-0D:(XA;;0x1ff;;;WD;(Member_of SID(S-1-1-0)))", hex);
}

TEST_CASE("Octet strings and 64-bit integers in conditions", "[acl][sddl][conditional]") {
  CheckWindowsBytes("D:AI(XA;OICI;FA;;;WD;(OctetStringType==#01020300))",
                    "0100048400000000000000000000000014000000020050000100000009034800ff011f00010100"
                    "000000000100000000"
                    "61727478f81e0000004f00630074006500740053007400720069006e0067005400790070006500"
                    "180400000001020300"
                    "80000000");
  CheckWindowsBytes("D:(XA;;;;;WD;(@Device.bb == 0x7fffffffffffffff))",
                    "010004800000000000000000000000001400000002003800010000000900300000000000010100"
                    "000000000100000000"
                    "61727478fb040000006200620004ffffffffffffff7f030380000000");
  // 0xffffffffffffffff: MS-DTYP 2.4.4.17.5 stores the 64 bits, sign byte 0x03 (none), base byte
  // 0x03 (hex); the recording above shows the same layout for 0x7fffffffffffffff.
  CheckWindowsBytes("D:(XA;;;;;WD;(@Device.bb == 0xffffffffffffffff))",
                    "010004800000000000000000000000001400000002003800010000000900300000000000010100"
                    "000000000100000000"
                    "61727478fb040000006200620004ffffffffffffffff030380000000");
  auto too_big = ParseSddl("D:(XA;;;;;WD;(@Device.bb == 0x10000000000000000))");
  CHECK_FALSE(too_big);
}

TEST_CASE("Composites and negations in conditions", "[acl][sddl][conditional]") {
  CheckWindowsBytes("D:(XA;;0x1f;;;AA;(@Device.colour == {\"orange\", \"blue\"}))",
                    "010004800000000000000000000000001400000002005c0001000000090054001f000000010200"
                    "000000000520000000"
                    "4302000061727478fb0c00000063006f006c006f0075007200501e000000100c0000006f007200"
                    "61006e006700650010"
                    "0800000062006c007500650080000000");
  CheckWindowsBytes(
      "D:(XA;;0x1f;;;AA;(!(! (Member_of{SID(AA)}))))",
      "0100048000000000000000000000000014000000020044000100000009003c001f00000001020000000000052000"
      "0000"
      "4302000061727478501500000051100000000102000000000005200000004302000089a2a2000000");
}

TEST_CASE("A DACL with conditional deny ACEs has revision 2 and no slack",
          "[acl][sddl][conditional]") {
  // "(XD;;FX;;;WD;(!(@USER.Project Not_Any_of 1)))": ACL revision 2, AclSize 0x40 exactly.
  CheckWindowsBytes("D:(XD;;FX;;;WD;(!(@USER.Project Not_Any_of 1)))",
                    "010004800000000000000000000000001400000002004000010000000a003800a0001200010100"
                    "000000000100000000"
                    "61727478f90e000000500072006f006a0065006300740004010000000000000003028fa2");
  // An empty rights field repeating the previous ACE does not add Windows' "oversize" slack for
  // callback ACEs ("O:S-1-1-0D:(XA;;;;;WD;(Member_Of SID(S-1-1-0)))" records revision 2 too).
  auto sd = ParseSddl("D:(XD;;;;;WD;(a == 1))(XD;;;;;WD;(a == 1))");
  REQUIRE(sd);
  REQUIRE(sd->dacl);
  CHECK(sd->dacl->revision == Acl::kRevision);
  CHECK(sd->dacl->slack == 0);
}

TEST_CASE("Escaped attribute names round-trip", "[acl][sddl][conditional]") {
  // MS-DTYP 2.5.1.1: "%" 4HEXDIG in an attribute name is one UTF-16 code unit. "a%0020b" is the
  // three units a, space, b (no recording: bytes from the grammar and 2.4.4.17.8's attribute
  // token 0xf9, length 6).
  CheckWindowsBytes("D:(XA;;FA;;;WD;(@User.a%0020b == 1))",
                    "0100048000000000000000000000000014000000020038000100000009003000ff011f00010100"
                    "000000000100000000"
                    "61727478f90600000061002000620004010000000000000003028000");
  auto sd = ParseSddl("D:(XA;;FA;;;WD;(@User.a%0020b == 1))");
  REQUIRE(sd);
  CHECK(FormatSddl(*sd) == "D:(XA;;FA;;;WD;(@User.a%0020b == 1))");
}
