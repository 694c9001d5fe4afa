// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 17, class 5: resource attribute ACEs (RA) in SDDL, encoded and decoded losslessly as
// CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1 (MS-DTYP 2.4.10.1). Bytes with a Windows recording are
// typed in from Samba's libcli/security/tests/windows/conditional_aces.txt.json; the others from
// the MS-DTYP 2.4.10.1 layout (said so at the case).
#include <catch2/catch.hpp>

#include <string>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/hex.hpp"

using namespace mkeys::acl;

namespace {

std::string EncodeHex(const std::string& sddl) {
  INFO(sddl);
  auto sd = ParseSddl(sddl);
  REQUIRE(sd);
  return mkeys::HexEncode(sd->Encode());
}

// bytes -> SDDL -> the same bytes.
std::string RoundTrip(const std::string& hex) {
  auto bytes = mkeys::HexDecode(hex);
  REQUIRE(bytes);
  auto sd = SecurityDescriptor::Decode(*bytes);
  REQUIRE(sd);
  const std::string sddl = FormatSddl(*sd);
  INFO(sddl);
  CHECK(EncodeHex(sddl) == hex);
  return sddl;
}

}  // namespace

TEST_CASE("RA string attributes encode to Windows' bytes and decode back",
          "[acl][sddl][resource-attribute]") {
  const std::string one =
      "010014800000000000000000140000005c0000000200480001000000120040000000000001010000000000010000"
      "0000"
      "140000000300000000000000010000002200000063006f006c006f0075007200000062006c007500650000000200"
      "4800"
      "01000000090040001f0000000102000000000005200000004302000061727478fb0c00000063006f006c006f0075"
      "0072"
      "00fa0c00000063006f006c006f00750072008000";
  CHECK(EncodeHex("D:(XA;;0x1f;;;AA;(@Device.colour == @Resource.colour))"
                  "S:(RA;;;;;WD;(\"colour\",TS,0,\"blue\"))") == one);
  const std::string sddl = RoundTrip(one);
  // Decode no longer drops the attribute (it used to print "S:(RA;;;;;WD)").
  CHECK(sddl.find("S:(RA;;;;;WD;(\"colour\",TS,0x0,\"blue\"))") != std::string::npos);

  const std::string two =
      "0100148000000000000000001400000068000000020054000100000012004c000000000001010000000000010000"
      "0000"
      "18000000030000000000000002000000260000003000000063006f006c006f0075007200000062006c0075006500"
      "0000"
      "72006500640000000200480001000000090040001f0000000102000000000005200000004302000061727478fb0c"
      "0000"
      "0063006f006c006f0075007200fa0c00000063006f006c006f00750072008600";
  CHECK(EncodeHex("D:(XA;;0x1f;;;AA;(@Device.colour Contains @Resource.colour))"
                  "S:(RA;;;;;WD;(\"colour\",TS,0,\"blue\", \"red\"))") == two);
  RoundTrip(two);
}

TEST_CASE("RA integer, boolean, SID and octet attributes round-trip",
          "[acl][sddl][resource-attribute]") {
  // MS-DTYP 2.4.10.1: header (name offset, type, reserved, flags, count, offsets), the name,
  // then each value: 8 bytes for INT64 (0x0001), UINT64 (0x0002) and BOOLEAN (0x0006); a
  // 4-byte length and the bytes for SID (0x0005) and OCTET_STRING (0x0010). Padded to 4.
  // ("x",TI,0x1,-2): 16-byte header + 1 offset, name "x\0" at 20, value at 24.
  const std::string ti =
      "010010800000000000000000140000000000000002003c0001000000120034000000000001010000000000010000"
      "0000"
      "140000000100000001000000010000001800000078000000feffffffffffffff";
  CHECK(EncodeHex("S:(RA;;;;;WD;(\"x\",TI,0x1,-2))") == ti);
  CHECK(RoundTrip(ti) == "S:(RA;;;;;WD;(\"x\",TI,0x1,-2))");
  CHECK(RoundTrip(EncodeHex("S:(RA;;;;;WD;(\"big\",TU,0x0,18446744073709551615,3))")) ==
        "S:(RA;;;;;WD;(\"big\",TU,0x0,18446744073709551615,3))");
  CHECK(RoundTrip(EncodeHex("S:(RA;;;;;WD;(\"ok\",TB,0x0,1,0))")) ==
        "S:(RA;;;;;WD;(\"ok\",TB,0x0,1,0))");
  CHECK(RoundTrip(EncodeHex("S:(RA;;;;;WD;(\"who\",TD,0x0,SID(BA),SID(S-1-5-21-1-2-3-1000)))")) ==
        "S:(RA;;;;;WD;(\"who\",TD,0x0,SID(BA),SID(S-1-5-21-1-2-3-1000)))");
  CHECK(RoundTrip(EncodeHex("S:(RA;;;;;WD;(\"blob\",TX,0x10,0102ff))")) ==
        "S:(RA;;;;;WD;(\"blob\",TX,0x10,0102ff))");
}

TEST_CASE("RA attributes are checked", "[acl][sddl][resource-attribute]") {
  CHECK_FALSE(ParseSddl("S:(RA;;;;;WD;(\"x\",TQ,0,1))"));      // unknown type
  CHECK_FALSE(ParseSddl("S:(RA;;;;;WD;(\"x\",TB,0,2))"));      // booleans are 0 or 1
  CHECK_FALSE(ParseSddl("S:(RA;;;;;WD;(\"x\",TS,0,\"a\""));    // not closed
  CHECK_FALSE(ParseSddl("S:(RA;;;;;WD)"));                     // RA needs its attribute
  CHECK_FALSE(ParseSddl("D:(RA;;;;;WD;(\"x\",TS,0,\"a\"))"));  // RA is a SACL ACE
}
